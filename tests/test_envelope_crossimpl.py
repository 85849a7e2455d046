"""Each implementation opens what the other sealed (JavaScript via tests/js/cross.mjs); version 3:
each verifies what the other signed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from server.envelope import (
    SignatureInvalid,
    b64u_decode,
    b64u_encode,
    check_envelope_shape,
    decode_content,
    decrypt_envelope,
    encode_content,
    encrypt_envelope,
    generate_device_key,
    private_key_jwk,
    verify_signature,
)

ROOT = Path(__file__).resolve().parents[1]
CROSS = ROOT / "tests" / "js" / "cross.mjs"
SIGNAL_ID = b64u_encode(bytes(range(16)))
DEVICE_ID = "dev-cross-1"
NAMES = ["Jan Jansen", "Zoë Ömer de Vries-Ƙ", 'A"y\\\t\x01\x7f\u2028 \U0001f9d2 李 </script>']


def node(request: dict) -> dict:
    executable = shutil.which("node")
    assert executable, "node is required for the cross-implementation tests"
    done = subprocess.run(
        [executable, str(CROSS)],
        input=json.dumps(request),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", NAMES)
def test_content_encoding_agrees(name: str) -> None:
    answer = node({"op": "encode_content", "name": name, "birth_date": "2015-03-02"})
    assert b64u_decode(answer["plaintext"]) == encode_content(name, "2015-03-02")


@pytest.mark.parametrize("name", NAMES)
def test_js_encrypts_python_decrypts(name: str) -> None:
    key, public = generate_device_key()
    plaintext = encode_content(name, "2015-03-02")
    answer = node(
        {
            "op": "encrypt",
            "public_key": b64u_encode(public),
            "signal_id": SIGNAL_ID,
            "device_id": DEVICE_ID,
            "plaintext": b64u_encode(plaintext),
        }
    )
    opened = decrypt_envelope(key, SIGNAL_ID, DEVICE_ID, answer["envelope"])
    assert decode_content(opened) == {"name": name, "birth_date": "2015-03-02"}


@pytest.mark.parametrize("name", NAMES)
def test_python_encrypts_js_decrypts(name: str) -> None:
    key, public = generate_device_key()
    plaintext = encode_content(name, "2015-03-02")
    envelope = encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, plaintext)
    answer = node(
        {
            "op": "decrypt",
            "jwk": private_key_jwk(key),
            "public_key": b64u_encode(public),
            "signal_id": SIGNAL_ID,
            "device_id": DEVICE_ID,
            "envelope": envelope,
        }
    )
    assert b64u_decode(answer["plaintext"]) == plaintext


# --- version 3: signed by the sending device (docs/envelope.md) -------------------------------

HEAD = {"org": "school-1", "size": 7, "hash": "6f" * 32}
SIGNER = {"org": "vt-utrecht", "device": "dev-sender-1"}
ORIGIN = {"org": "vt-utrecht", "device": "dev-sender-0"}


@pytest.mark.parametrize("origin", [None, ORIGIN], ids=["sent", "forwarded"])
def test_python_seals_v3_js_verifies_and_opens(origin: dict | None) -> None:
    key, public = generate_device_key()
    signing, signing_public = generate_device_key()
    plaintext = encode_content(NAMES[1], "2015-03-02")
    envelope = encrypt_envelope(
        public,
        SIGNAL_ID,
        DEVICE_ID,
        plaintext,
        head=HEAD,
        signing_key=signing,
        signer=SIGNER,
        origin=origin,
    )
    request = {
        "op": "verify_open",
        "jwk": private_key_jwk(key),
        "public_key": b64u_encode(public),
        "signal_id": SIGNAL_ID,
        "device_id": DEVICE_ID,
        "envelope": envelope,
        "sig_key": b64u_encode(signing_public),
    }
    answer = node(request)
    assert answer["verdict"] == "verified"
    assert answer["sender"] == verify_signature(
        envelope, SIGNAL_ID, DEVICE_ID, b64u_encode(signing_public)
    )
    assert (answer["signer"], answer["origin"]) == (SIGNER, origin)
    assert b64u_decode(answer["plaintext"]) == plaintext
    # Another device's key: JavaScript reaches Python's verdict.
    other = b64u_encode(generate_device_key()[1])
    assert node(request | {"sig_key": other})["verdict"] == "bad_signature"
    with pytest.raises(SignatureInvalid):
        verify_signature(envelope, SIGNAL_ID, DEVICE_ID, other)


@pytest.mark.parametrize("origin", [None, ORIGIN], ids=["sent", "forwarded"])
def test_js_seals_v3_python_verifies_and_opens(origin: dict | None) -> None:
    key, public = generate_device_key()
    signing, signing_public = generate_device_key()
    plaintext = encode_content(NAMES[2], "2015-03-02")
    answer = node(
        {
            "op": "seal_v3",
            "public_key": b64u_encode(public),
            "signal_id": SIGNAL_ID,
            "device_id": DEVICE_ID,
            "plaintext": b64u_encode(plaintext),
            "head": HEAD,
            "signer": SIGNER,
            "signing_jwk": private_key_jwk(signing),
            "origin": origin,
        }
    )
    envelope = answer["envelope"]
    check_envelope_shape(envelope)
    sender = verify_signature(envelope, SIGNAL_ID, DEVICE_ID, b64u_encode(signing_public))
    assert sender["signer_device"] == SIGNER["device"]
    assert sender.get("origin_device") == (origin or {}).get("device")
    assert decrypt_envelope(key, SIGNAL_ID, DEVICE_ID, envelope) == plaintext
    with pytest.raises(SignatureInvalid):
        verify_signature(envelope, SIGNAL_ID, "dev-cross-2", b64u_encode(signing_public))
