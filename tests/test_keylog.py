"""server/keylog.py: the committed vectors (shared with pwa/keylog.js), and the rules one by one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from server import keylog

VECTORS = Path(__file__).parent / "vectors" / "keylog"
CASES = sorted(p.stem for p in VECTORS.glob("*.json") if p.stem != "codes")


def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def check(vector: dict[str, Any]) -> keylog.State:
    remembered = vector["remembered"]
    return keylog.verify_log(
        vector["log_key"],
        vector["org"],
        vector["entries"],
        vector["head"],
        None if remembered is None else (remembered["size"], remembered["hash"]),
    )


def test_the_vectors_are_what_the_script_makes(tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in VECTORS.glob("*.json")}
    subprocess.run([sys.executable, str(VECTORS / "make_vectors.py")], check=True)
    assert {p.name: p.read_bytes() for p in VECTORS.glob("*.json")} == before


def test_every_kind_of_case_is_covered() -> None:
    assert {
        "valid",
        "changed-entry",
        "truncated",
        "bad-head-signature",
        "fork",
        "missing-approval",
        "bad-approval-signature",
        "link-beside-active",
        "migrated-after-genesis",
        "rotation-valid",
        "rotation-bad-signature",
        "rotation-reused-key",
        "rotation-of-revoked-device",
        "rotation-without-sig-key",
        "machine-valid",
        "machine-revoked",
        "machine-approved-by-contact",
        "machine-approved-by-teacher",
        "machine-approved-by-another-org",
        "machine-reused-key",
    } <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_vector_verdict(name: str) -> None:
    vector = load(name)
    if vector["valid"]:
        state = check(vector)
        for role, expected in vector["recipients"].items():
            assert keylog.recipients(state, [role]) == expected
        machines = {
            i: {"sig_key": m.sig_key, "active": m.active} for i, m in state.machines.items()
        }
        assert machines == vector.get("machines", {})
    else:
        with pytest.raises(keylog.LogError) as refused:
            check(vector)
        assert str(refused.value).startswith(vector["error"]), refused.value


def test_comparison_codes_and_approval_statement() -> None:
    codes = load("codes")
    for row in codes["codes"]:
        code = keylog.comparison_code(row["enc_key"], row["sig_key"])
        assert code == row["code"]
        assert len(code) == 7 and code[3] == " " and code.replace(" ", "").isdigit()
    assert codes["approval_statement"].startswith("hwc-approve-device-v1\n{")
    for row in codes["machine_codes"]:
        assert keylog.machine_code(row["sig_key"]) == row["code"]
    assert codes["machine_statement"].startswith("hwc-approve-machine-v1\n{")


# --- single rules on a small log made here ---------------------------------------------------


def _key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, keylog.public_b64u(key)


def _entry(state: keylog.State, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "org": state.org,
        "seq": state.size,
        "prev": state.hash,
        "at": 100 + state.size,
        "kind": kind,
        "by": "admin:a1",
    } | fields


def _with_contact() -> tuple[keylog.State, ec.EllipticCurvePrivateKey]:
    state = keylog.State("org1")
    keylog.apply(state, _entry(state, "person_added", person="p1", role="contact"))
    sig, sig_pub = _key()
    keylog.apply(
        state,
        _entry(
            state,
            "device_added",
            person="p1",
            device="d1",
            enc_key=_key()[1],
            sig_key=sig_pub,
            how="link",
        ),
    )
    return state, sig


def test_an_approved_device_needs_the_approver_of_the_same_person() -> None:
    state, sig = _with_contact()
    enc, new_sig = _key()[1], _key()[1]
    statement = keylog.approval_statement("org1", "p1", "d2", enc, new_sig)
    entry = _entry(
        state,
        "device_added",
        person="p1",
        device="d2",
        enc_key=enc,
        sig_key=new_sig,
        how="approved",
        approver="d1",
        approval=keylog.sign(sig, statement),
    )
    keylog.apply(state, entry)
    assert [d["id"] for d in keylog.recipients(state, ["contact"])] == ["d1", "d2"]


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 5},
        {"prev": keylog.ZERO},
        {"at": 1},
        {"at": 1.5},
        {"at": True},
        {"kind": "device_moved"},
        {"extra": "x"},
        {"person": "p1"},  # exists already
        {"role": "janitor"},
        {"by": "root"},
        {"person": "naïve"},
        {"role": "teacher\x7f"},  # DEL: Python and JavaScript escape it differently
        {"at": 2**53},  # beyond JavaScript's safe integers
    ],
)
def test_a_malformed_or_out_of_order_entry_is_refused(change: dict[str, Any]) -> None:
    state, _ = _with_contact()
    with pytest.raises(keylog.LogError):
        keylog.apply(state, _entry(state, "person_added", person="p2", role="teacher") | change)


def test_reset_ends_the_devices_and_allows_a_new_first_device() -> None:
    state, _ = _with_contact()
    keylog.apply(state, _entry(state, "person_reset", person="p1"))
    assert keylog.recipients(state, ["contact"]) == []
    fields = {"person": "p1", "device": "d3", "enc_key": _key()[1], "sig_key": _key()[1]}
    keylog.apply(state, _entry(state, "device_added", how="link", **fields))
    assert [d["id"] for d in keylog.recipients(state, ["contact"])] == ["d3"]


def test_a_key_is_never_used_twice() -> None:
    state, _ = _with_contact()
    keylog.apply(state, _entry(state, "person_reset", person="p1"))
    used = state.devices["d1"].enc_key
    fields = {"person": "p1", "device": "d3", "enc_key": used, "sig_key": _key()[1]}
    with pytest.raises(keylog.LogError, match="seen before"):
        keylog.apply(state, _entry(state, "device_added", how="link", **fields))


def test_consistency_with_a_remembered_head() -> None:
    vector = load("valid")
    entries = vector["entries"]
    assert keylog.consistent(entries, 0, keylog.ZERO)
    assert keylog.consistent(entries, 3, keylog.entry_hash(entries[2]))
    assert not keylog.consistent(entries, 3, keylog.entry_hash(entries[3]))
    assert not keylog.consistent(entries[:2], 3, keylog.entry_hash(entries[2]))


def test_signatures_are_p1363_and_verify() -> None:
    key, public = _key()
    signature = keylog.sign(key, b"message")
    assert len(signature) == 86
    assert keylog.verify(public, b"message", signature)
    assert not keylog.verify(public, b"other", signature)
    assert not keylog.verify(_key()[1], b"message", signature)
