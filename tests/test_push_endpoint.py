"""The server POSTs to registered push endpoints: only public https push services qualify."""

from __future__ import annotations

import pytest

from server.envelope import b64u_encode, generate_device_key
from server.push import check_endpoint
from server.web import ApiError
from tests.support import World

PRODUCTION = "https://hwc.example.nl"
KEYS = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/abc",
    "https://updates.push.services.mozilla.com/wpush/v2/abc",
    "https://web.push.apple.com/abc",
])
def test_public_push_services_are_accepted(endpoint: str) -> None:
    check_endpoint(endpoint, PRODUCTION)


@pytest.mark.parametrize("endpoint", [
    "http://fcm.googleapis.com/fcm/send/abc",  # not https
    "https://10.0.0.1/push", "https://192.168.1.5/push", "https://169.254.169.254/latest",
    "https://[::1]/push", "https://127.0.0.1/push", "https://localhost/push",
    "https://printer.local/push", "http://127.0.0.1:8123/push/abc",
])
def test_internal_or_plain_endpoints_are_refused_in_production(endpoint: str) -> None:
    with pytest.raises(ApiError) as refused:
        check_endpoint(endpoint, PRODUCTION)
    assert refused.value.status == 422


def test_enrolment_refuses_an_internal_endpoint_but_accepts_loopback_in_development(
        world: World) -> None:
    school = world.org()
    person = world.person("contact", school)
    client = world.client()
    body = {"token": world.enrol_link_token(person), "label": "tel",
            "public_key": b64u_encode(generate_device_key()[1]),
            "push": {"endpoint": "https://10.1.2.3/push", "keys": KEYS}}
    refused = client.post("/api/enrol", json=body)
    assert refused.status_code == 422 and refused.json()["error"] == "bad_push_endpoint"
    body["push"]["endpoint"] = "http://127.0.0.1:9/push/abc"  # this test server is on loopback
    assert client.post("/api/enrol", json=body).status_code == 201
