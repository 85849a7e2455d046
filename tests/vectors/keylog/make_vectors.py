"""Write tests/vectors/keylog/*.json: key log vectors (docs/keylog.md) from fixed keys.

Run from the repository root: `python tests/vectors/keylog/make_vectors.py`. Keys come from
fixed seeds and signatures are deterministic (RFC 6979), so re-running it leaves the committed
files unchanged. Each file: the log key, an organisation's entries, its signed head, perhaps a
head the client remembered, and the verdict: `valid`, and for an invalid one `error`, the start
of the Python message (`entry N`, `head`, or `log does not extend`) for orientation.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from server import keylog  # noqa: E402 - after the path set-up above
from server.envelope import load_private_key_raw  # noqa: E402

OUT = Path(__file__).parent
ORG = "school-1"
SENDER_ORG = "vt-1"  # a Veilig Thuis organisation: people who send, and its sending system
AT = 1_790_000_000


def key(seed: str) -> Any:
    """A fixed P-256 key from a seed (the scalar is far below the group order)."""
    d = hashlib.sha256(b"hwc-keylog-vector-" + seed.encode()).digest()
    return load_private_key_raw(b"\x00" + d[1:])


LOG_KEY = key("log")
OTHER_LOG_KEY = key("other-log")


class Builder:
    """Appends well-chained entries; the rules are the verifier's business, not the builder's."""

    def __init__(self, org: str = ORG) -> None:
        self.org = org
        self.entries: list[dict[str, Any]] = []

    def add(self, kind: str, by: str, **fields: Any) -> dict[str, Any]:
        prev = keylog.entry_hash(self.entries[-1]) if self.entries else keylog.ZERO
        entry = {"org": self.org, "seq": len(self.entries), "prev": prev, "kind": kind, "by": by}
        entry |= {"at": AT + 60 * len(self.entries)} | fields
        self.entries.append(entry)
        return entry

    def device(self, person: str, device: str, how: str, by: str, **extra: Any) -> None:
        enc = keylog.public_b64u(key(f"{device}-enc"))
        sig = "" if extra.pop("no_sig", False) else keylog.public_b64u(key(f"{device}-sig"))
        fields = {"person": person, "device": device, "enc_key": enc, "sig_key": sig, "how": how}
        self.add("device_added", by, **fields, **extra)

    def approved(self, person: str, device: str, approver: str, signer: str | None = None) -> None:
        enc = keylog.public_b64u(key(f"{device}-enc"))
        sig = keylog.public_b64u(key(f"{device}-sig"))
        statement = keylog.approval_statement(self.org, person, device, enc, sig)
        approval = keylog.sign(key(f"{signer or approver}-sig"), statement)
        self.device(
            person, device, "approved", f"device:{approver}", approver=approver, approval=approval
        )

    def rotate(self, person: str, device: str, new_key: str, signer: str | None = None) -> None:
        """key_rotated: the device's new ECDH key (from seed `new_key`), signed by its sig key."""
        enc = keylog.public_b64u(key(new_key))
        statement = keylog.rotation_statement(self.org, person, device, enc)
        signature = keylog.sign(key(f"{signer or device}-sig"), statement)
        fields = {"person": person, "device": device, "enc_key": enc, "signature": signature}
        self.add("key_rotated", f"device:{device}", **fields)

    def machine(self, name: str, approver: str, signer: str | None = None, **extra: Any) -> str:
        """A sending system's key approved by `approver` (signed by `signer` when given)."""
        sig = extra.pop("sig_key", None) or keylog.public_b64u(key(f"{name}-sig"))
        device = keylog.machine_device_id(sig)
        statement = keylog.machine_statement(self.org, device, sig)
        approval = keylog.sign(key(f"{signer or approver}-sig"), statement)
        fields = {"device": device, "sig_key": sig, "approver": approver, "approval": approval}
        self.add("machine_added", f"device:{approver}", **fields | extra)
        return device

    def head(self, signer: Any = LOG_KEY) -> dict[str, Any]:
        return keylog.sign_head(signer, keylog.chain_head(self.org, self.entries))


def genesis() -> Builder:
    """Existing data: a contact with a device, a teacher with a device made before sig keys."""
    log = Builder()
    log.add("person_added", "server", person="contact-a", role="contact")
    log.device("contact-a", "dev-a1", "migrated", "server")
    log.add("person_added", "server", person="teacher-t", role="teacher")
    log.device("teacher-t", "dev-t1", "migrated", "server", no_sig=True)
    return log


def valid_log() -> Builder:
    log = genesis()
    log.add("person_added", "admin:admin-1", person="contact-b", role="contact")
    log.device("contact-b", "dev-b1", "link", "admin:admin-1")
    log.approved("contact-b", "dev-b2", "dev-b1")
    log.approved("contact-a", "dev-a2", "dev-a1")
    log.add("device_revoked", "device:dev-a2", person="contact-a", device="dev-a1")
    log.add("person_reset", "person:contact-b", person="teacher-t")
    log.device("teacher-t", "dev-t2", "contact", "person:contact-b")
    log.add("person_added", "person:contact-b", person="teacher-u", role="teacher")
    log.add("role_changed", "admin:admin-1", person="teacher-u", role="contact")
    log.device("teacher-u", "dev-u1", "link", "admin:admin-1")
    log.add("person_revoked", "admin:admin-1", person="teacher-u")
    return log


def vector(
    description: str,
    log: Builder,
    head: dict[str, Any],
    error: str | None,
    remembered: dict[str, Any] | None = None,
    roles: tuple[str, ...] = ("contact", "teacher"),
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "description": description,
        "log_key": keylog.public_b64u(LOG_KEY),
        "org": log.org,
        "entries": log.entries,
        "head": head,
        "remembered": remembered,
        "valid": error is None,
    }
    if error is None:
        state = keylog.derive(log.org, log.entries)
        result["recipients"] = {role: keylog.recipients(state, [role]) for role in roles}
        if state.machines:  # the derived machines, {id: {sig_key, active}}
            result["machines"] = {
                i: {"sig_key": m.sig_key, "active": m.active} for i, m in state.machines.items()
            }
    else:
        result["error"] = error
    return result


def changed(log: Builder, index: int, **fields: Any) -> Builder:
    """The log with entry `index` changed and nothing re-chained after it."""
    copy = Builder()
    copy.entries = [dict(e) for e in log.entries]
    copy.entries[index] |= fields
    return copy


def rebuilt(kinds: list[tuple[str, str, dict[str, Any]]], base: Builder | None = None) -> Builder:
    log = base or genesis()
    for kind, by, fields in kinds:
        log.add(kind, by, **fields)
    return log


def vectors() -> dict[str, dict[str, Any]]:
    valid = valid_log()
    head = valid.head()
    out = {
        "valid": vector(
            "a valid log: genesis, link, approvals, reset, revocations", valid, head, None
        )
    }
    swapped_key = keylog.public_b64u(key("intruder-enc"))
    out["changed-entry"] = vector(
        "entry 5's enc_key replaced, nothing re-chained: entry 6's prev no longer matches",
        changed(valid, 5, enc_key=swapped_key),
        head,
        "entry 6",
    )
    truncated = Builder()
    truncated.entries = valid.entries[:-2]
    out["truncated"] = vector(
        "the last two entries dropped, the full log's head served", truncated, head, "head"
    )
    out["bad-head-signature"] = vector(
        "the head signed by another key than the log key", valid, valid.head(OTHER_LOG_KEY), "head"
    )
    fork = genesis()
    fork.add("person_added", "admin:admin-1", person="contact-b", role="contact")
    fork.device("contact-b", "dev-x1", "link", "admin:admin-1")
    remembered = {"size": 6, "hash": keylog.entry_hash(valid.entries[5])}
    out["fork"] = vector(
        "a correctly signed log that does not extend the remembered head (entry 5 differs)",
        fork,
        fork.head(),
        "log does not extend",
        remembered,
    )
    out["extends-remembered"] = vector(
        "a log that extends the remembered head", valid, head, None, remembered
    )
    missing = genesis()
    missing.device("contact-a", "dev-a9", "approved", "device:dev-a1")
    out["missing-approval"] = vector(
        "how approved without approver and approval", missing, missing.head(), "entry 4"
    )
    bad = genesis()
    bad.approved("contact-a", "dev-a9", "dev-a1", signer="dev-a9")
    out["bad-approval-signature"] = vector(
        "the approval signed by the new device itself, not by the approver",
        bad,
        bad.head(),
        "entry 4",
    )
    beside = genesis()
    beside.device("contact-a", "dev-a9", "link", "admin:admin-1")
    out["link-beside-active"] = vector(
        "an admin link adds a first device beside the person's active device",
        beside,
        beside.head(),
        "entry 4",
    )
    late = genesis()
    late.add("person_added", "admin:admin-1", person="contact-c", role="contact")
    late.device("contact-c", "dev-c1", "migrated", "server")
    out["migrated-after-genesis"] = vector(
        "a migrated device after an admin's entry ended the genesis prefix",
        late,
        late.head(),
        "entry 5",
    )
    out |= machine_vectors()
    out["codes"] = codes()
    return out | rotations()


def rotations() -> dict[str, dict[str, Any]]:
    """key_rotated (issue 20 item 4): the newest key is the recipient; the refusals."""
    valid = genesis()
    valid.rotate("contact-a", "dev-a1", "dev-a1-enc-2")
    valid.add("person_added", "admin:admin-1", person="contact-b", role="contact")
    valid.device("contact-b", "dev-b1", "link", "admin:admin-1")
    valid.rotate("contact-a", "dev-a1", "dev-a1-enc-3")
    valid.rotate("contact-b", "dev-b1", "dev-b1-enc-2")
    out = {
        "rotation-valid": vector(
            "two devices rotate their keys (one twice): recipients carry the newest keys",
            valid,
            valid.head(),
            None,
        )
    }
    bad = genesis()
    bad.rotate("contact-a", "dev-a1", "dev-a1-enc-2", signer="intruder")
    out["rotation-bad-signature"] = vector(
        "a new key signed by another key than the device's sig_key", bad, bad.head(), "entry 4"
    )
    reused = genesis()
    reused.rotate("contact-a", "dev-a1", "dev-a1-enc-2")
    reused.rotate("contact-a", "dev-a1", "dev-a1-enc")
    out["rotation-reused-key"] = vector(
        "a device rotates back to its own earlier key", reused, reused.head(), "entry 5"
    )
    revoked = genesis()
    revoked.add("device_revoked", "admin:admin-1", person="contact-a", device="dev-a1")
    revoked.rotate("contact-a", "dev-a1", "dev-a1-enc-2")
    out["rotation-of-revoked-device"] = vector(
        "a revoked device announces a new key", revoked, revoked.head(), "entry 5"
    )
    unsigned = genesis()
    unsigned.rotate("teacher-t", "dev-t1", "dev-t1-enc-2")
    out["rotation-without-sig-key"] = vector(
        "a migrated device without sig_key announces a new key",
        unsigned,
        unsigned.head(),
        "entry 4",
    )
    return out


def sender_org() -> Builder:
    """A Veilig Thuis organisation: a sender and an admin, each with a first device."""
    log = Builder(SENDER_ORG)
    for person, role, device in (("sender-s", "sender", "dev-s1"), ("admin-v", "admin", "dev-v1")):
        log.add("person_added", "admin:admin-1", person=person, role=role)
        log.device(person, device, "link", "admin:admin-1")
    return log


def machine_vectors() -> dict[str, dict[str, Any]]:
    """`machine_added` / `machine_revoked` (docs/keylog.md): a sending system's signing key."""
    roles = ("sender", "admin")
    out = {}
    valid = sender_org()
    valid.machine("system-1", "dev-s1")
    out["machine-valid"] = vector(
        "a sending system's key approved by a sender's device; machines receive nothing",
        valid,
        valid.head(),
        None,
        roles=roles,
    )
    revoked = sender_org()
    first = revoked.machine("system-1", "dev-s1")
    revoked.add("machine_revoked", "device:dev-v1", device=first)
    revoked.machine("system-2", "dev-v1")
    out["machine-revoked"] = vector(
        "a system's key revoked, a new one approved by the admin's device",
        revoked,
        revoked.head(),
        None,
        roles=roles,
    )
    twice = sender_org()
    first = twice.machine("system-1", "dev-s1")
    twice.add("machine_revoked", "device:dev-v1", device=first)
    twice.add("machine_revoked", "device:dev-v1", device=first)
    out["machine-revoked-twice"] = vector(
        "a machine revoked that is no longer active", twice, twice.head(), "entry 6", roles=roles
    )
    by_contact = genesis()
    by_contact.machine("system-1", "dev-a1")
    out["machine-approved-by-contact"] = vector(
        "a school's contact approves a sending system", by_contact, by_contact.head(), "entry 4"
    )
    by_teacher = genesis()
    by_teacher.add("person_reset", "person:contact-a", person="teacher-t")
    by_teacher.device("teacher-t", "dev-t2", "contact", "person:contact-a")
    by_teacher.machine("system-1", "dev-t2")
    out["machine-approved-by-teacher"] = vector(
        "a teacher approves a sending system", by_teacher, by_teacher.head(), "entry 6"
    )
    foreign = sender_org()
    foreign.machine("system-1", "dev-a1")
    out["machine-approved-by-another-org"] = vector(
        "a device of another organisation (a school's contact) approves the system",
        foreign,
        foreign.head(),
        "entry 4",
        roles=roles,
    )
    reused = sender_org()
    reused.machine("system-1", "dev-s1", sig_key=keylog.public_b64u(key("dev-v1-sig")))
    out["machine-reused-key"] = vector(
        "a system's key that is the admin device's signing key", reused, reused.head(), "entry 4"
    )
    self_signed = sender_org()
    self_signed.machine("system-1", "dev-s1", signer="system-1")
    out["machine-bad-approval"] = vector(
        "the approval signed by the system's own key, not by the sender's device",
        self_signed,
        self_signed.head(),
        "entry 4",
    )
    return out


def codes() -> dict[str, Any]:
    """Comparison codes and one approval statement, for checking the byte forms alone."""
    devices = ["dev-a1", "dev-b2", "dev-t2"]
    rows = []
    for device in devices:
        enc = keylog.public_b64u(key(f"{device}-enc"))
        sig = keylog.public_b64u(key(f"{device}-sig"))
        rows.append({"enc_key": enc, "sig_key": sig, "code": keylog.comparison_code(enc, sig)})
    statement = keylog.approval_statement(
        ORG, "contact-b", "dev-b2", rows[1]["enc_key"], rows[1]["sig_key"]
    )
    machines = [keylog.public_b64u(key(f"system-{n}-sig")) for n in (1, 2)]
    return {
        "description": "comparison codes (of devices and of sending systems); the approval "
        "statements of dev-b2 and of system-1 as UTF-8 text",
        "codes": rows,
        "approval_statement": statement.decode("ascii"),
        "machine_codes": [{"sig_key": k, "code": keylog.machine_code(k)} for k in machines],
        "machine_statement": keylog.machine_statement(
            SENDER_ORG, keylog.machine_device_id(machines[0]), machines[0]
        ).decode("ascii"),
    }


def main() -> None:
    for name, content in vectors().items():
        text = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
        (OUT / f"{name}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
