"""The cut-over to signed envelopes (HWC_SIGNED_FROM, docs/envelope.md): from that date the
server accepts only version 3 on send, forward and relay, and /api/me tells the app the date
(tests/test_browser_verdict.py: the app then shows an unsigned signal as unverifiable)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.envelope import new_signal_id
from server.settings import Settings
from tests.conftest import live_world
from tests.support import World, seal
from tests.test_keylog_server import verified

NAME, BORN = "Fleur de Boer", "2016-04-04"


@pytest.fixture
def signed_world(tmp_path: Path) -> Iterator[World]:
    with live_world(tmp_path / "hwc.db", signed_from="2026-01-01") as world:
        yield world


def test_after_the_cut_over_only_signed_envelopes_are_accepted(signed_world: World) -> None:
    world = signed_world
    school = world.org()
    world.member("contact", school)
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    vt = world.db.execute("SELECT org_id FROM people WHERE id = ?", [sender.person_id]).fetchone()[
        0
    ]
    assert (
        sender.get("/api/me").json()["signed_from"] == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    )
    devices = sender.get(f"/api/schools/{school}/recipients").json()["devices"]
    head = verified(world, school).head()
    for unsigned in ({}, {"head": head}):  # versions 1 and 2
        signal_id = new_signal_id()
        body = {
            "id": signal_id,
            "recipient_id": school,
            "envelopes": seal(devices, signal_id, NAME, BORN, **unsigned),
        }
        response = sender.post("/api/signals", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "unsigned_envelope"
        assert "niet ondertekend" in response.json()["message"]
    signal_id = new_signal_id()
    signer = {"org": vt, "device": sender.device_id}
    envelopes = seal(
        devices, signal_id, NAME, BORN, head=head, signing_key=sender.sig_private, signer=signer
    )
    body = {"id": signal_id, "recipient_id": school, "envelopes": envelopes}
    assert sender.post("/api/signals", json=body).status_code == 201


def test_the_cut_over_is_off_by_default_and_a_date_when_set(world: World) -> None:
    assert world.member("contact", world.org()).get("/api/me").json()["signed_from"] is None
    assert Settings.from_env({"HWC_SIGNED_FROM": ""}).signed_from_at is None
    with pytest.raises(SystemExit, match="HWC_SIGNED_FROM"):
        Settings.from_env({"HWC_SIGNED_FROM": "morgen"})
