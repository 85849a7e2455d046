"""A sending system's key approved by a person in the app, in Debian's Chromium (issue 20 item
3): `hwc register-key` prints a code; the sender's phone shows the waiting system with the same
code and "Toestaan"; the phone signs, the key enters the organisation's key log, and `hwc send`
then sends version 3 whose signer that log names. "Weigeren" leaves the log as it was; a
teacher's phone never sees a system; the sender revokes it on the same screen."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from server import keylog
from server.cli import main as hwc
from server.clientstate import load as load_state
from server.envelope import verify_signature
from tests.browser import enrol_phone, trust_area
from tests.support import World
from tests.test_machines import log_state, sent_envelope

NAME, BORN = "Fleur de Boer", "2016-04-04"


@pytest.fixture
def orgs(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    school = world.org(name="Basisschool Het Anker")
    vt = world.org("veilig_thuis", "Veilig Thuis Utrecht")
    admin = world.member("admin", None)
    made = admin.post("/api/admin/api-keys", json={"org_id": vt, "label": "zaaksysteem"})
    monkeypatch.setenv("HWC_URL", world.url)
    monkeypatch.setenv("HWC_API_KEY", made.json()["api_key"])
    monkeypatch.setenv("HWC_STATE", str(tmp_path / "state.json"))
    return {
        "school": school,
        "code": world.db.execute("SELECT code FROM orgs WHERE id = ?", [school]).fetchone()[0],
        "vt": vt,
        "contact": world.member("contact", school),
    }


def register(capsys: Any) -> str:
    """`hwc register-key`: the code it prints."""
    assert hwc(["register-key"]) == 0
    printed = capsys.readouterr().out
    return str(printed.split("Code: ", 1)[1][:7])


def hwc_send(monkeypatch: pytest.MonkeyPatch, code: str, capsys: Any) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{NAME}\n{BORN}\n"))
    assert hwc(["send", "--school", code]) == 0
    return str(capsys.readouterr().err)


def test_a_sender_approves_the_system_in_the_app_and_hwc_send_signs(
    browser: Any, world: World, orgs: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    phone = enrol_phone(browser, world, "sender", orgs["vt"], name="Sanne Melder")
    code = register(capsys)
    state = load_state()
    assert code == keylog.machine_code(state.sig_key)
    assert "NIET ondertekend" in hwc_send(monkeypatch, orgs["code"], capsys)
    phone.goto("/")
    area = trust_area(phone)
    expect(area).to_contain_text(f"code {code}")  # computed on the phone from the key itself
    expect(area).to_contain_text("'zaaksysteem'")
    phone.shot("machine-01-wacht")
    area.get_by_role("button", name="Toestaan").click()
    expect(area).to_contain_text("is toegestaan")
    log = log_state(world, orgs["vt"])
    assert log.machines[state.signer_device] == keylog.Machine(state.sig_key, True)
    assert hwc_send(monkeypatch, orgs["code"], capsys) == ""
    signal_id, envelope = sent_envelope(world, orgs)
    assert envelope["v"] == 3 and envelope["signer"]["device"] == state.signer_device
    signer = log.machines[envelope["signer"]["device"]]
    assert verify_signature(envelope, signal_id, orgs["contact"].device_id, signer.sig_key)
    # Revoked on the same screen: the log says so, and hwc send no longer signs.
    phone.goto("/")
    area.locator("summary").click()
    area.get_by_role("button", name="Intrekken").click()
    expect(area).to_contain_text("is ingetrokken")
    assert not log_state(world, orgs["vt"]).machines[state.signer_device].active
    assert "NIET ondertekend" in hwc_send(monkeypatch, orgs["code"], capsys)
    assert phone.csp_problems() == []
    phone.close()


def test_weigeren_and_a_teacher_sees_nothing(
    browser: Any, world: World, orgs: dict[str, Any], capsys: Any
) -> None:
    teacher = enrol_phone(browser, world, "teacher", orgs["school"], class_label="groep 3")
    phone = enrol_phone(browser, world, "sender", orgs["vt"], name="Sanne Melder")
    code = register(capsys)
    teacher.goto("/")
    expect(teacher.page.get_by_role("heading", level=1)).to_be_visible()
    phone.goto("/")
    area = trust_area(phone)
    expect(area).to_contain_text(f"code {code}")
    # The teacher's app never asks (its role cannot decide; the server would answer 403).
    expect(teacher.page.get_by_text("registratiesysteem")).to_have_count(0)
    assert not [u for u in teacher.requested if "machine-keys" in u]
    assert [u for u in phone.requested if u.endswith("/api/org/machine-keys")]
    area.get_by_role("button", name="Weigeren").click()
    expect(area).to_contain_text("is geweigerd")
    assert log_state(world, orgs["vt"]).machines == {}
    assert hwc(["register-key"]) == 1  # declined for good: a new key is needed
    assert "geweigerd of ingetrokken" in capsys.readouterr().err
    teacher.close()
    phone.close()
