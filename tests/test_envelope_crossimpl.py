"""Each implementation opens what the other sealed (JavaScript via tests/js/cross.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from server.envelope import (
    b64u_decode,
    b64u_encode,
    decode_content,
    decrypt_envelope,
    encode_content,
    encrypt_envelope,
    generate_device_key,
    private_key_jwk,
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
