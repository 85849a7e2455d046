"""hwc-envelope-v1 (DESIGN.md section 4): ECDH P-256 + HKDF-SHA256 + AES-256-GCM; version 2
(docs/keylog.md) also binds the head of the receiving organisation's key log that the sender
verified into the additional authenticated data.

The server only checks an envelope's shape (`check_envelope_shape`); it never decrypts. The
`hwc send` client and the tests encrypt and decrypt here, and `pwa/envelope.js` must agree with
this module byte for byte (see tests/vectors/envelope-v1.json).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SCHEME = b"hwc-envelope-v1"
SCHEME_V2 = b"hwc-envelope-v2\n"
VERSION = 1
VERSION_HEAD = 2
KEYS = frozenset({"v", "epk", "salt", "iv", "ct"})
KEYS_V2 = KEYS | {"head"}
HEAD_KEYS = frozenset({"org", "size", "hash"})
POINT_BYTES = 65
SALT_BYTES = 16
IV_BYTES = 12
TAG_BYTES = 16
MIN_CT_BYTES = TAG_BYTES + 1  # content is never empty
MAX_CT_BYTES = 1024  # a name and a birth date fit many times over
MAX_PLAINTEXT_BYTES = MAX_CT_BYTES - TAG_BYTES
CONTENT_KEYS = frozenset({"name", "birth_date"})

_B64U = re.compile(r"[A-Za-z0-9_-]*")
_ORG = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HASH = re.compile(r"[0-9a-f]{64}")


class EnvelopeError(ValueError):
    """Any envelope failure. Messages are fixed short English: never plaintext or key material."""


# --- base64url -------------------------------------------------------------------------------


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_signal_id(now: float | None = None) -> str:
    """A new signal id as the sending clients make it: 6 bytes of the time in milliseconds, then
    10 random bytes; base64url (22 characters). Time first, so a new signal's rows land beside
    those of other recent signals in every index on signal ids, instead of on a random page of
    each: the database writes far fewer pages per signal (pwa/envelope.js makes them alike).
    """
    millis = int((time.time() if now is None else now) * 1000)
    return b64u_encode(millis.to_bytes(6, "big") + os.urandom(10))


def b64u_decode(text: str) -> bytes:
    """Strict: one text per byte string, so a re-encoded field can never differ from the input."""
    if not isinstance(text, str) or not _B64U.fullmatch(text) or len(text) % 4 == 1:
        raise EnvelopeError("not base64url without padding")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64u_encode(data) != text:  # non-zero unused bits in the last character
        raise EnvelopeError("not canonical base64url")
    return data


def canonical(obj: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8 (docs/keylog.md): the bytes JavaScript makes alike."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


# --- keys ------------------------------------------------------------------------------------


def generate_device_key() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, public_key_raw(key)


def public_key_raw(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 65-byte uncompressed point, as the server stores it."""
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def load_private_key_raw(d: bytes) -> ec.EllipticCurvePrivateKey:
    if not isinstance(d, bytes) or len(d) != 32:
        raise EnvelopeError("private key must be 32 bytes")
    try:
        return ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
    except ValueError:
        raise EnvelopeError("private key out of range") from None


def private_key_raw(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_numbers().private_value.to_bytes(32, "big")


def private_key_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The JWK WebCrypto needs to import a raw private scalar (vectors and cross tests)."""
    point = public_key_raw(key)
    return {
        "kty": "EC",
        "crv": "P-256",
        "d": b64u_encode(private_key_raw(key)),
        "x": b64u_encode(point[1:33]),
        "y": b64u_encode(point[33:]),
    }


def _load_point(raw: object) -> ec.EllipticCurvePublicKey:
    # Uncompressed only: the spec fixes 65 bytes, and compressed points would be a second form.
    if not isinstance(raw, bytes) or len(raw) != POINT_BYTES or raw[0] != 4:
        raise EnvelopeError("public key must be a 65-byte uncompressed point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise EnvelopeError("public key is not a P-256 point") from None


def _check_private_key(key: object) -> ec.EllipticCurvePrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise EnvelopeError("private key must be a P-256 key")
    return key


# --- the envelope ----------------------------------------------------------------------------


def _aad(signal_id: str, device_id: str, head: dict[str, Any] | None = None) -> bytes:
    # "|" separates the ids, so an id holding one would make two contexts share an aad.
    for value in (signal_id, device_id):
        if not isinstance(value, str) or not value or "|" in value:
            raise EnvelopeError("ids must be non-empty strings without '|'")
    try:
        if head is not None:
            # Ids of the key log's form only: their canonical bytes hold no escape that
            # Python and JavaScript would write differently.
            if not (_ORG.fullmatch(signal_id) and _ORG.fullmatch(device_id)):
                raise EnvelopeError("version 2 ids must be 1-64 of [A-Za-z0-9_-]")
            context = {"device": device_id, "head": check_head(head), "signal": signal_id}
            return SCHEME_V2 + canonical(context)
        return b"|".join([SCHEME, signal_id.encode(), device_id.encode()])
    except UnicodeEncodeError:
        raise EnvelopeError("ids must be valid Unicode") from None


def check_head(head: object) -> dict[str, Any]:
    """A version 2 envelope's head: {org, size, hash} of the receiving organisation's log."""
    if not isinstance(head, dict) or head.keys() != HEAD_KEYS:
        raise EnvelopeError("head must have exactly the keys org, size, hash")
    org, size, last = head["org"], head["size"], head["hash"]
    if not (isinstance(org, str) and _ORG.fullmatch(org)) or type(size) is not int or size < 0:
        raise EnvelopeError("head org or size is malformed")
    if not isinstance(last, str) or not _HASH.fullmatch(last):
        raise EnvelopeError("head hash is malformed")
    return {"org": org, "size": size, "hash": last}


def _cipher(
    private_key: ec.EllipticCurvePrivateKey,
    peer: ec.EllipticCurvePublicKey,
    salt: bytes,
    epk: bytes,
    recipient: bytes,
) -> AESGCM:
    shared = private_key.exchange(ec.ECDH(), peer)
    info = SCHEME + b"\x00" + epk + recipient
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)
    return AESGCM(key)


def _fixed_bytes(value: bytes | None, size: int, name: str) -> bytes:
    if value is None:
        return os.urandom(size)
    if not isinstance(value, bytes) or len(value) != size:
        raise EnvelopeError(f"{name} must be {size} bytes")
    return value


def encrypt_envelope(
    recipient_public_key: bytes,
    signal_id: str,
    device_id: str,
    plaintext: bytes,
    *,
    ephemeral_private_key: ec.EllipticCurvePrivateKey | None = None,
    salt: bytes | None = None,
    iv: bytes | None = None,
    head: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Seal `plaintext` for one device; with the receiving organisation's verified log `head`,
    version 2. Fixed ephemeral key, salt and iv are for vectors only."""
    peer = _load_point(recipient_public_key)
    aad = _aad(signal_id, device_id, head)
    if not isinstance(plaintext, bytes) or not 0 < len(plaintext) <= MAX_PLAINTEXT_BYTES:
        raise EnvelopeError(f"plaintext must be 1 to {MAX_PLAINTEXT_BYTES} bytes")
    if ephemeral_private_key is None:
        ephemeral_private_key = ec.generate_private_key(ec.SECP256R1())
    ephemeral = _check_private_key(ephemeral_private_key)
    salt = _fixed_bytes(salt, SALT_BYTES, "salt")
    iv = _fixed_bytes(iv, IV_BYTES, "iv")
    epk = public_key_raw(ephemeral)
    ct = _cipher(ephemeral, peer, salt, epk, recipient_public_key).encrypt(iv, plaintext, aad)
    sealed: dict[str, Any] = {
        "v": VERSION if head is None else VERSION_HEAD,
        "epk": b64u_encode(epk),
        "salt": b64u_encode(salt),
        "iv": b64u_encode(iv),
        "ct": b64u_encode(ct),
    }
    if head is not None:
        sealed["head"] = check_head(head)
    return sealed


def _field(envelope: dict[str, Any], name: str, low: int, high: int) -> bytes:
    text = envelope[name]
    # Bound the text before decoding, so a huge field costs nothing.
    if not isinstance(text, str) or len(text) > (high * 4 + 2) // 3:
        raise EnvelopeError(f"{name} is too long or not a string")
    try:
        data = b64u_decode(text)
    except EnvelopeError:
        raise EnvelopeError(f"{name} is not base64url") from None
    if not low <= len(data) <= high:
        raise EnvelopeError(f"{name} has the wrong length")
    return data


def _parse(envelope: object) -> tuple[ec.EllipticCurvePublicKey, bytes, bytes, bytes, bytes]:
    if not isinstance(envelope, dict) or envelope.keys() not in (KEYS, KEYS_V2):
        raise EnvelopeError("envelope must have exactly the keys v, epk, salt, iv, ct (, head)")
    version = envelope["v"]
    wanted = VERSION_HEAD if "head" in envelope else VERSION
    if type(version) is not int or version != wanted:  # bool is an int: refuse True
        raise EnvelopeError("unsupported envelope version")
    if "head" in envelope:
        check_head(envelope["head"])
    epk = _field(envelope, "epk", POINT_BYTES, POINT_BYTES)
    point = _load_point(epk)
    salt = _field(envelope, "salt", SALT_BYTES, SALT_BYTES)
    iv = _field(envelope, "iv", IV_BYTES, IV_BYTES)
    ct = _field(envelope, "ct", MIN_CT_BYTES, MAX_CT_BYTES)
    return point, epk, salt, iv, ct


def check_envelope_shape(envelope: object) -> None:
    """What the server checks: well formed, with a valid point; it cannot check more."""
    _parse(envelope)


def decrypt_envelope(
    private_key: ec.EllipticCurvePrivateKey,
    signal_id: str,
    device_id: str,
    envelope: dict[str, Any],
) -> bytes:
    key = _check_private_key(private_key)
    point, epk, salt, iv, ct = _parse(envelope)
    aad = _aad(signal_id, device_id, envelope.get("head"))
    try:
        return _cipher(key, point, salt, epk, public_key_raw(key)).decrypt(iv, ct, aad)
    except InvalidTag:
        raise EnvelopeError("envelope does not open with this key and these ids") from None


# --- the signal content ----------------------------------------------------------------------


def encode_content(name: str, birth_date: str) -> bytes:
    """Compact UTF-8 JSON, exactly what JSON.stringify({name, birth_date}) gives in the PWA."""
    if not isinstance(name, str) or not isinstance(birth_date, str):
        raise EnvelopeError("content fields must be strings")
    text = json.dumps(
        {"name": name, "birth_date": birth_date}, ensure_ascii=False, separators=(",", ":")
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the PWA refuses them too
        raise EnvelopeError("content is not valid Unicode") from None


def decode_content(data: bytes) -> dict[str, str]:
    """Strict: only the canonical encoding is accepted, so both languages refuse the same."""
    if not isinstance(data, bytes):
        raise EnvelopeError("content must be bytes")
    try:
        content = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, or absurd numbers
        raise EnvelopeError("content is not UTF-8 JSON") from None
    if not isinstance(content, dict) or content.keys() != CONTENT_KEYS:
        raise EnvelopeError("content must have exactly the keys name and birth_date")
    if encode_content(content["name"], content["birth_date"]) != data:
        raise EnvelopeError("content is not in canonical form")
    return {"name": content["name"], "birth_date": content["birth_date"]}
