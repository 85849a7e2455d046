"""A sending system's signing key (issue 20 item 3; docs/keylog.md, "Sending systems"), through
real HTTP: `hwc register-key` with the API key makes it pending; a sender's device approves it
(`machine_added`; admins have no organisation here), and `hwc send` then signs version 3 as a
signer the log names; an API key alone, a teacher, a contact, another organisation's sender or
a forged approval cannot add it; two waiting at once void each other; a revoked key signs no
more."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import keylog
from server.cli import main as hwc
from server.client import Client
from server.clientstate import ClientState
from server.clientstate import load as load_state
from server.envelope import decode_content, decrypt_envelope, verify_signature
from tests.support import Device, World

NAME, BORN = "Fleur de Boer", "2016-04-04"


@pytest.fixture
def orgs(world: World) -> dict[str, Any]:
    school = world.org(name="Basisschool Het Anker")
    vt = world.org("veilig_thuis", "Veilig Thuis Test")
    admin = world.member("admin", None)
    made = admin.post("/api/admin/api-keys", json={"org_id": vt, "label": "zaaksysteem"})
    assert made.status_code == 201, made.text
    return {
        "school": school,
        "code": world.db.execute("SELECT code FROM orgs WHERE id = ?", [school]).fetchone()[0],
        "vt": vt,
        "api_key": made.json()["api_key"],
        "contact": world.member("contact", school),
        "sender": world.member("sender", vt),
    }


def system(world: World, orgs: dict[str, Any], tmp_path: Path) -> Client:
    state = load_state(tmp_path / f"state-{len(list(tmp_path.iterdir()))}.json")
    return Client(world.url, orgs["api_key"], state=state)


def approve(device: Device, org_id: str, state: ClientState) -> httpx.Response:
    statement = keylog.machine_statement(org_id, state.signer_device, state.sig_key)
    approval = keylog.sign(device.sig_private, statement)
    return device.post(
        f"/api/org/machine-keys/{state.signer_device}/approve", {"approval": approval}
    )


def log_state(world: World, org_id: str) -> keylog.State:
    key = world.client().get("/api/log/key").json()["key"]
    log = world.client().get(f"/api/orgs/{org_id}/log").json()
    return keylog.verify_log(key, org_id, log["entries"], log["head"])


def sent_envelope(world: World, orgs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    signal_id = world.db.execute("SELECT id FROM signals ORDER BY sent_at DESC").fetchone()[0]
    contact = orgs["contact"]
    opened = contact.post(f"/api/signals/{signal_id}/open")
    assert opened.status_code == 200, opened.text
    return signal_id, opened.json()["envelope"]


def test_register_approve_and_send_signed(
    world: World, orgs: dict[str, Any], tmp_path: Path
) -> None:
    client = system(world, orgs, tmp_path)
    state = client._state()
    answer = client.register_key()
    assert answer == {
        "id": state.signer_device,
        "org": orgs["vt"],
        "state": "pending",
        "code": keylog.machine_code(state.sig_key),
    }
    assert client.register_key() == answer  # the same key again: its state, nothing new
    assert log_state(world, orgs["vt"]).machines == {}
    # Waiting: the send goes out unsigned (version 2), and says why.
    client.send(orgs["code"], NAME, BORN)
    assert sent_envelope(world, orgs)[1]["v"] == 2
    assert client.unsigned is not None and answer["code"] in str(client.unsigned)
    # The sender's phone lists it with its code, and approves it.
    listed = orgs["sender"].get("/api/org/machine-keys").json()
    assert [(m["id"], m["state"], m["code"], m["label"]) for m in listed] == [
        (state.signer_device, "pending", answer["code"], "zaaksysteem")
    ]
    assert approve(orgs["sender"], orgs["vt"], state).status_code == 200
    log = log_state(world, orgs["vt"])
    assert log.machines[state.signer_device] == keylog.Machine(state.sig_key, True)
    added = world.client().get(f"/api/orgs/{orgs['vt']}/log").json()["entries"][-1]
    assert (added["kind"], added["by"]) == ("machine_added", f"device:{orgs['sender'].device_id}")
    # Machines receive nothing: the school's recipients and the VT's people are unchanged.
    assert all(d["id"] != state.signer_device for d in keylog.recipients(log, keylog.ROLES))
    # Now signed, as a signer the sender organisation's verified log names active.
    client.send(orgs["code"], NAME, BORN)
    assert client.unsigned is None
    signal_id, envelope = sent_envelope(world, orgs)
    assert envelope["v"] == 3
    assert envelope["signer"] == {"org": orgs["vt"], "device": state.signer_device}
    signer = log.machines[envelope["signer"]["device"]]
    contact = orgs["contact"]
    assert verify_signature(envelope, signal_id, contact.device_id, signer.sig_key) == {
        "signer_org": orgs["vt"],
        "signer_device": state.signer_device,
    }
    plain = decrypt_envelope(contact.private_key, signal_id, contact.device_id, envelope)
    assert decode_content(plain) == {"name": NAME, "birth_date": BORN}


def test_an_api_key_alone_cannot_add_a_machine(
    world: World, orgs: dict[str, Any], tmp_path: Path
) -> None:
    client = system(world, orgs, tmp_path)
    state = client._state()
    client.register_key()
    statement = keylog.machine_statement(orgs["vt"], state.signer_device, state.sig_key)
    own_signature = keylog.sign(state.signing_key, statement)  # all the key's holder can make
    with world.client({"Authorization": f"Bearer {orgs['api_key']}"}) as api:
        path = f"/api/org/machine-keys/{state.signer_device}"
        assert api.post(f"{path}/approve", json={"approval": own_signature}).status_code == 403
        assert api.get("/api/org/machine-keys").status_code == 403
    # Nor a sender device whose signature is not its own logged key's.
    forged = orgs["sender"].post(
        f"/api/org/machine-keys/{state.signer_device}/approve", {"approval": own_signature}
    )
    assert forged.status_code == 422 and forged.json()["error"] == "bad_approval"
    assert log_state(world, orgs["vt"]).machines == {}
    client.send(orgs["code"], NAME, BORN)
    assert sent_envelope(world, orgs)[1]["v"] == 2


@pytest.mark.parametrize("role", ["teacher", "contact"])
def test_a_school_person_cannot_approve(
    world: World, orgs: dict[str, Any], tmp_path: Path, role: str
) -> None:
    client = system(world, orgs, tmp_path)
    client.register_key()
    person = world.member(role, orgs["school"])
    assert approve(person, orgs["vt"], client._state()).status_code == 403
    assert person.get("/api/org/machine-keys").status_code == 403
    assert log_state(world, orgs["vt"]).machines == {}


def test_another_organisations_sender_does_not_see_or_approve(
    world: World, orgs: dict[str, Any], tmp_path: Path
) -> None:
    client = system(world, orgs, tmp_path)
    client.register_key()
    stranger = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Ander"))
    assert stranger.get("/api/org/machine-keys").json() == []
    refused = approve(stranger, orgs["vt"], client._state())
    assert refused.status_code == 404 and refused.json()["error"] == "unknown_machine"
    assert log_state(world, orgs["vt"]).machines == {}


def test_another_sender_revokes(world: World, orgs: dict[str, Any], tmp_path: Path) -> None:
    colleague = world.member("sender", orgs["vt"])
    client = system(world, orgs, tmp_path)
    state = client._state()
    client.register_key()
    assert approve(colleague, orgs["vt"], state).status_code == 200
    client.send(orgs["code"], NAME, BORN)
    assert sent_envelope(world, orgs)[1]["v"] == 3
    revoked = orgs["sender"].post(f"/api/org/machine-keys/{state.signer_device}/revoke")
    assert revoked.status_code == 200, revoked.text
    entry = world.client().get(f"/api/orgs/{orgs['vt']}/log").json()["entries"][-1]
    assert (entry["kind"], entry["device"]) == ("machine_revoked", state.signer_device)
    assert not log_state(world, orgs["vt"]).machines[state.signer_device].active
    assert orgs["sender"].get("/api/org/machine-keys").json() == []
    client.send(orgs["code"], NAME, BORN)  # revoked: unsigned again, with the warning
    assert sent_envelope(world, orgs)[1]["v"] == 2 and client.unsigned is not None
    again = client._request("POST", "/api/machine-keys", {"sig_key": state.sig_key})
    assert again[0] == 409 and again[1]["error"] == "machine_key_ended"


def test_two_waiting_at_once_void_each_other(
    world: World, orgs: dict[str, Any], tmp_path: Path
) -> None:
    honest, intruder = system(world, orgs, tmp_path), system(world, orgs, tmp_path)
    honest.register_key()
    with pytest.raises(Exception, match="beide aanmeldingen vervallen"):
        intruder.register_key()
    assert orgs["sender"].get("/api/org/machine-keys").json() == []
    assert honest.register_key()["state"] == "pending"  # alone again: waits as before


def test_declined_stays_declined(world: World, orgs: dict[str, Any], tmp_path: Path) -> None:
    client = system(world, orgs, tmp_path)
    state = client._state()
    client.register_key()
    declined = orgs["sender"].post(f"/api/org/machine-keys/{state.signer_device}/decline")
    assert declined.status_code == 200
    assert approve(orgs["sender"], orgs["vt"], state).status_code == 404
    with pytest.raises(Exception, match="geweigerd of ingetrokken"):
        client.register_key()


def test_hwc_register_key_and_send_say_what_to_do(
    world: World,
    orgs: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    monkeypatch.setenv("HWC_URL", world.url)
    monkeypatch.setenv("HWC_API_KEY", orgs["api_key"])
    monkeypatch.setenv("HWC_STATE", str(tmp_path / "state.json"))
    assert hwc(["register-key"]) == 0
    state = load_state(tmp_path / "state.json")
    code = keylog.machine_code(state.sig_key)
    printed = capsys.readouterr().out
    assert f"Code: {code}" in printed and "Toestaan" in printed
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{NAME}\n{BORN}\n"))
    assert hwc(["send", "--school", orgs["code"]]) == 0
    out = capsys.readouterr()
    assert "Verstuurd" in out.out and "NIET ondertekend" in out.err and code in out.err
    assert NAME not in out.out + out.err
    assert approve(orgs["sender"], orgs["vt"], state).status_code == 200
    assert hwc(["register-key"]) == 0
    assert "goedgekeurd" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{NAME}\n{BORN}\n"))
    assert hwc(["send", "--school", orgs["code"]]) == 0
    assert capsys.readouterr().err == ""
    assert sent_envelope(world, orgs)[1]["v"] == 3
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["servers"][world.url]["machine_org"] == orgs["vt"]


def test_the_admin_page_shows_the_organisations_sending_systems(
    world: World, orgs: dict[str, Any], tmp_path: Path
) -> None:
    """The admin who made the API key sees on the organisation's page whether its system waits
    for a sender's approval or signs; the page only reads, and shows no code: the code is
    compared between the system and the phone, which computes it from the key itself."""
    admin = world.member("admin", orgs["vt"])
    page = f"/admin/orgs/{orgs['vt']}"
    assert "Nog geen registratiesysteem" in admin.get(page).text
    client = system(world, orgs, tmp_path)
    code = client.register_key()["code"]
    waiting = admin.get(page).text
    assert "zaaksysteem" in waiting and "wacht op goedkeuring" in waiting
    assert code not in waiting
    assert approve(orgs["sender"], orgs["vt"], client._state()).status_code == 200
    assert "ondertekent" in admin.get(page).text
