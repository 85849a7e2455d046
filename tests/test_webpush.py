"""RFC 8291 encryption: RFC 8291's own example, and an independent implementation (http_ece,
which pywebpush and the fake push service use) opens what server/webpush.py seals."""

from __future__ import annotations

import secrets

import http_ece  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from server import push
from server.envelope import b64u_decode, b64u_encode
from server.fakepush import public_raw
from server.pushworker import PAYLOAD_SIZE, payload
from server.webpush import MAX_PLAINTEXT, RECORD_SIZE, encrypt, encrypt_with

HEADER = 16 + 4 + 1 + 65  # salt, rs, keyid length, keyid (RFC 8188 section 2.1)
OVERHEAD = HEADER + 1 + 16  # and the record's delimiter and tag


def receiver() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A browser's side of a subscription: its ECDH key and auth secret."""
    return ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16)


def open_push(body: bytes, key: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    return http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")


def test_rfc_8291_appendix_a_byte_for_byte() -> None:
    ua_public = b64u_decode(
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    )
    as_key = ec.derive_private_key(
        int.from_bytes(b64u_decode("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")), ec.SECP256R1()
    )
    body = encrypt_with(
        b"When I grow up, I want to be a watermelon",
        ua_public,
        b64u_decode("BTBZMqHH6r4Tts7J_aSIgg"),
        as_key,
        b64u_decode("DGv6ra1nlYgDCS1FRnbzlw"),
    )
    assert b64u_encode(body) == (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInm"
        "YWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQ"
        "exSgSxsj_Qulcy4a-fN"
    )


@pytest.mark.parametrize(
    "plaintext",
    [
        b"x",
        "één signaal".encode(),
        bytes(MAX_PLAINTEXT),
        payload("https://hwc.example.nl", "reminder", "s1").encode(),
    ],
)
def test_http_ece_opens_what_we_seal_in_one_record(plaintext: bytes) -> None:
    key, auth = receiver()
    body = encrypt(plaintext, public_raw(key), auth)
    assert open_push(body, key, auth) == plaintext
    assert int.from_bytes(body[16:20]) == RECORD_SIZE and body[20] == 65
    assert len(body) == OVERHEAD + len(plaintext)  # one record, no padding of its own


def test_every_push_has_its_own_key_and_salt_and_opens_only_for_its_receiver() -> None:
    key, auth = receiver()
    bodies = [encrypt(b"same text", public_raw(key), auth) for _ in range(3)]
    assert len({body[:16] for body in bodies}) == 3  # salt
    assert len({body[21:HEADER] for body in bodies}) == 3  # the sender's ECDH key
    assert len(set(bodies)) == 3
    other_key, other_auth = receiver()
    for wrong_key, wrong_auth in ((key, other_auth), (other_key, auth)):
        with pytest.raises(http_ece.ECEException):
            open_push(bodies[0], wrong_key, wrong_auth)


def test_too_long_for_one_record_is_refused() -> None:
    key, auth = receiver()
    with pytest.raises(ValueError, match="one record"):
        encrypt(bytes(MAX_PLAINTEXT + 1), public_raw(key), auth)


def test_padding_makes_every_kind_the_same_length_on_the_wire() -> None:
    key, auth = receiver()
    lengths = set()
    for base_url in ("https://hwc.example.nl", "https://hwc.example.nl/" + "wijk/" * 60):
        for kind in push.KINDS:
            for signal_id in (None, "s", secrets.token_urlsafe(16)):
                plaintext = payload(base_url, kind, signal_id).encode()
                body = encrypt(plaintext, public_raw(key), auth)
                assert open_push(body, key, auth) == plaintext
                lengths.add(len(body))
    assert lengths == {OVERHEAD + PAYLOAD_SIZE}
