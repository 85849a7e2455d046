"""Write tests/vectors/envelope-v1.json, envelope-v2.json and envelope-v3.json: envelope test
vectors from fixed inputs (version 2 binds a key log head, docs/keylog.md; version 3 adds the
sending device's signature, docs/envelope.md).

Run from the repository root: `python tests/vectors/make_vectors.py`. The output is
deterministic (ECDH, HKDF and AES-GCM have no randomness once the ephemeral key, salt and iv
are fixed, and signatures use RFC 6979 nonces), so re-running it must leave the committed
files unchanged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server.envelope import (  # noqa: E402 - after the path set-up above
    EnvelopeError,
    SignatureInvalid,
    b64u_decode,
    b64u_encode,
    decrypt_envelope,
    encode_content,
    encrypt_envelope,
    load_private_key_raw,
    private_key_jwk,
    private_key_raw,
    public_key_raw,
    signed_statement,
    verify_signature,
)
from server.keylog import sign  # noqa: E402

OUT = Path(__file__).with_name("envelope-v1.json")
OUT_V2 = Path(__file__).with_name("envelope-v2.json")
OUT_V3 = Path(__file__).with_name("envelope-v3.json")
OUT_ROTATION = Path(__file__).with_name("envelope-rotation.json")
# A receiving organisation's key log head, as a sender verified it (fixed, any valid form).
HEAD = {
    "org": "school-1",
    "size": 7,
    "hash": "6f1c0d3e9a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5",
}

# Fixed random-looking inputs (from os.urandom once): recipient d, ephemeral d, salt, iv, signal.
POSITIVE = [
    {
        "description": "ASCII name",
        "recipient_d": "0ce67cb1a67c0ed089bb3eab6493a534eb4a105bf8434f2af88a43afb57832ea",
        "ephemeral_d": "2d35129c79c7fe2085b9ba35d0bfebf7973468fb096576889ccec51eb54137f0",
        "salt": "0beecfe1cd2c45a3d1a1543bed448a17",
        "iv": "a1d31fdc4ddb92e721cd82a6",
        "signal": "12f10927a507a337295ef2a5e47df7fd",
        "device_id": "dev-contact-1",
        "name": "Jan Jansen",
        "birth_date": "2014-09-30",
    },
    {
        "description": "non-ASCII name",
        "recipient_d": "0599e3eec3a263005e2af704d4b59e817c556a810bcfb7d9111cb3adb4e06b59",
        "ephemeral_d": "b92a5488cd6302f1fc1cdc61e3109951e27a66d32a57700a55fdd682e8e9d4ae",
        "salt": "ae31cb07a3fc15c446943a9f69843db7",
        "iv": "4943f8e56785fd901c11a86b",
        "signal": "e424bfebdd90ea2820f66b409c487f77",
        "device_id": "5Q3YcWNi0s8kqZ6Lx4Tf1A",
        "name": "Zoë Ömer de Vries-Ƙ",
        "birth_date": "2015-03-02",
    },
    {
        "description": "name with quotes, backslash, tab and an emoji (JSON escapes)",
        "recipient_d": "9125aacf302526529759640213e8f31771d59f6c459d4321c69687835109d00e",
        "ephemeral_d": "fe1b1da81e9d8e8dee381167861b1600372bf27180c72cc55d28e21ff4be92c6",
        "salt": "98e08cb7918d13a03ea14c3d4698bb4b",
        "iv": "23da08eebdec1332ae0536a6",
        "signal": "26fe3b6d23cb4b6ba688e934783771aa",
        "device_id": "teacher-device-42",
        "name": 'Ay\u015fe "Ayi" O\'Neil\\\t\U0001f9d2 \u674e',
        "birth_date": "2018-12-31",
    },
]


def key_entry(d_hex: str) -> dict:
    key = load_private_key_raw(bytes.fromhex(d_hex))
    return {
        "d": b64u_encode(private_key_raw(key)),
        "jwk": private_key_jwk(key),
        "public_key": b64u_encode(public_key_raw(key)),
    }


def positive(spec: dict, head: dict | None = None, **signing) -> dict:
    recipient = load_private_key_raw(bytes.fromhex(spec["recipient_d"]))
    signal_id = b64u_encode(bytes.fromhex(spec["signal"]))
    plaintext = encode_content(spec["name"], spec["birth_date"])
    envelope = encrypt_envelope(
        public_key_raw(recipient),
        signal_id,
        spec["device_id"],
        plaintext,
        ephemeral_private_key=load_private_key_raw(bytes.fromhex(spec["ephemeral_d"])),
        salt=bytes.fromhex(spec["salt"]),
        iv=bytes.fromhex(spec["iv"]),
        head=head,
        **signing,
    )
    assert decrypt_envelope(recipient, signal_id, spec["device_id"], envelope) == plaintext
    return {
        "description": spec["description"],
        "recipient": key_entry(spec["recipient_d"]),
        "ephemeral": key_entry(spec["ephemeral_d"]),
        "salt": b64u_encode(bytes.fromhex(spec["salt"])),
        "iv": b64u_encode(bytes.fromhex(spec["iv"])),
        "signal_id": signal_id,
        "device_id": spec["device_id"],
        "content": {"name": spec["name"], "birth_date": spec["birth_date"]},
        "plaintext": plaintext.decode("utf-8"),
        "envelope": envelope,
    }


def _with_bytes(envelope: dict, name: str, change) -> dict:
    return {**envelope, name: b64u_encode(change(bytearray(b64u_decode(envelope[name]))))}


def _flip(index: int, mask: int):
    def change(data: bytearray) -> bytearray:
        data[index] ^= mask
        return data

    return change


def negatives(base: dict) -> list[dict]:
    """Each is the first positive vector with one thing wrong; each must fail to decrypt."""
    env = base["envelope"]
    cases = [
        ("wrong signal id", {"signal_id": b64u_encode(bytes(16))}),
        ("wrong device id", {"device_id": base["device_id"] + "x"}),
        ("flipped ciphertext bit", {"envelope": _with_bytes(env, "ct", _flip(0, 0x01))}),
        ("epk not on the curve", {"envelope": _with_bytes(env, "epk", _flip(64, 0x01))}),
        ("wrong version", {"envelope": {**env, "v": 2}}),
        ("truncated ct", {"envelope": _with_bytes(env, "ct", lambda d: d[:-1])}),
        ("flipped tag bit", {"envelope": _with_bytes(env, "ct", _flip(-1, 0x80))}),
        ("flipped salt bit", {"envelope": _with_bytes(env, "salt", _flip(3, 0x10))}),
        ("flipped iv bit", {"envelope": _with_bytes(env, "iv", _flip(11, 0x02))}),
        ("extra key", {"envelope": {**env, "x": 1}}),
    ]
    fields = ("recipient", "signal_id", "device_id", "envelope")
    vectors = [
        {"description": text, **{k: base[k] for k in fields}, **change} for text, change in cases
    ]
    for vector in vectors:
        assert_fails(vector)
    return vectors


def assert_fails(vector: dict) -> None:
    key = load_private_key_raw(b64u_decode(vector["recipient"]["d"]))
    try:
        decrypt_envelope(key, vector["signal_id"], vector["device_id"], vector["envelope"])
    except EnvelopeError:
        return
    raise AssertionError(f"negative vector opened: {vector['description']}")


def build() -> dict:
    vectors = [positive(spec) for spec in POSITIVE]
    return {
        "scheme": "hwc-envelope-v1",
        "about": "DESIGN.md section 4. Binary values are base64url without padding; "
        "plaintext is the UTF-8 text of the content JSON.",
        "positive": vectors,
        "negative": negatives(vectors[0]),
    }


def negatives_v2(base: dict) -> list[dict]:
    """Version 2 with the head changed, dropped or malformed; each must fail to decrypt."""
    env = base["envelope"]
    plain_v1 = {k: v for k, v in env.items() if k != "head"}
    cases = [
        ("head size changed", {**env, "head": {**HEAD, "size": HEAD["size"] + 1}}),
        ("head hash changed", {**env, "head": {**HEAD, "hash": "0" * 64}}),
        ("head of another organisation", {**env, "head": {**HEAD, "org": "school-2"}}),
        ("head dropped, read as version 1", {**plain_v1, "v": 1}),
        ("head kept, version 1", {**env, "v": 1}),
        ("head with an extra key", {**env, "head": {**HEAD, "sig": "x"}}),
        ("head size not an integer", {**env, "head": {**HEAD, "size": "7"}}),
    ]
    fields = ("recipient", "signal_id", "device_id")
    vectors = [
        {"description": text, **{k: base[k] for k in fields}, "envelope": envelope}
        for text, envelope in cases
    ]
    for vector in vectors:
        assert_fails(vector)
    return vectors


def build_v2() -> dict:
    vectors = [positive(spec, HEAD) for spec in POSITIVE[:2]]
    return {
        "scheme": "hwc-envelope-v2",
        "about": "docs/keylog.md, Envelope version 2: as version 1, with the receiving "
        "organisation's key log head in the envelope and in the additional authenticated data "
        "(hwc-envelope-v2\\n + canonical {device, head, signal}); the key derivation is "
        "version 1's.",
        "positive": vectors,
        "negative": negatives_v2(vectors[0]),
    }


# Version 3: signing keys (fixed scalars) of a Veilig Thuis device, of a school contact's
# device that forwards, and of an unrelated device (the wrong signer).
SENDER = {"org": "vt-utrecht", "device": "dev-sender-1"}
FORWARDER = {"org": "school-1", "device": "dev-contact-1"}
SIGNING_D = {
    "dev-sender-1": "5b1e1c0f2f6a4c3d8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e",
    "dev-contact-1": "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d",
    "dev-other-9": "7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f",
}


def signing_key(device: str):
    return load_private_key_raw(bytes.fromhex(SIGNING_D[device]))


def verdict(vector: dict) -> str:
    """What a recipient concludes: verified, bad_signature (shown as not checkable), malformed,
    or unreadable (a valid signature over an envelope that does not open)."""
    env, signal_id, device_id = vector["envelope"], vector["signal_id"], vector["device_id"]
    try:
        verify_signature(env, signal_id, device_id, vector["signer_sig_key"])
    except SignatureInvalid:
        return "bad_signature"
    except EnvelopeError:
        return "malformed"
    try:
        key = load_private_key_raw(b64u_decode(vector["recipient"]["d"]))
        decrypt_envelope(key, signal_id, device_id, env)
    except EnvelopeError:
        return "unreadable"
    return "verified"


def signed(spec: dict, signer: dict, origin: dict | None = None) -> dict:
    extra = {} if origin is None else {"origin": origin}
    vector = positive(spec, HEAD, signing_key=signing_key(signer["device"]), signer=signer, **extra)
    vector["signer_sig_key"] = b64u_encode(public_key_raw(signing_key(signer["device"])))
    return vector


def _resigned(base: dict, **changes) -> dict:
    """The base vector's envelope re-signed with changed fields (the sealed part kept)."""
    key = signing_key(changes.pop("by", base["envelope"]["signer"]["device"]))
    envelope = {k: v for k, v in base["envelope"].items() if k != "sig"} | changes
    statement = signed_statement(envelope, base["signal_id"], base["device_id"])
    return {**base, "envelope": envelope | {"sig": sign(key, statement)}}


def cases_v3(direct: dict, forwarded: dict) -> list[tuple[str, dict]]:
    env, other = direct["envelope"], b64u_encode(public_key_raw(signing_key("dev-other-9")))
    other_device = {**direct, "device_id": "dev-contact-2"}
    over_other = _resigned(other_device)  # the same sealed part, signed for another device
    sig_bytes = bytearray(b64u_decode(env["sig"]))
    sig_bytes[5] ^= 0x04
    no_origin = {k: v for k, v in forwarded["envelope"].items() if k != "origin"}
    return [
        ("tampered signature", {**direct, "envelope": {**env, "sig": b64u_encode(sig_bytes)}}),
        ("wrong signer: another device's key", {**direct, "signer_sig_key": other}),
        ("wrong signer: signed by another device", _resigned(direct, by="dev-other-9")),
        (
            "signer claims another organisation",
            {**direct, "envelope": {**env, "signer": {**SENDER, "org": "vt-amsterdam"}}},
        ),
        (
            "signature over another recipient",
            {**direct, "envelope": {**env, "sig": over_other["envelope"]["sig"]}},
        ),
        (
            "ciphertext of another envelope",
            {**direct, "envelope": {**env, "ct": _with_bytes(env, "ct", _flip(2, 0x01))["ct"]}},
        ),
        (
            "head changed after signing",
            {**direct, "envelope": {**env, "head": {**HEAD, "size": HEAD["size"] + 1}}},
        ),
        ("forwarded copy with its origin dropped", {**forwarded, "envelope": no_origin}),
        (
            "forwarded copy with another origin",
            {
                **forwarded,
                "envelope": {
                    **forwarded["envelope"],
                    "origin": {"org": "vt-amsterdam", "device": "dev-x"},
                },
            },
        ),
        (
            "signature dropped, read as version 2",
            {
                **direct,
                "envelope": {
                    **{k: v for k, v in env.items() if k not in ("sig", "signer")},
                    "v": 2,
                },
            },
        ),
        ("signature of the wrong length", {**direct, "envelope": {**env, "sig": env["sig"][:-2]}}),
        (
            "signer with an extra key",
            {**direct, "envelope": {**env, "signer": {**SENDER, "role": "sender"}}},
        ),
        ("valid signature, wrong recipient key", {**direct, "recipient": forwarded["recipient"]}),
    ]


def build_v3() -> dict:
    direct = signed(POSITIVE[0], SENDER)
    forwarded = signed(POSITIVE[1], FORWARDER, origin=SENDER)
    fields = ("recipient", "signal_id", "device_id", "envelope", "signer_sig_key")
    negative = []
    for text, vector in cases_v3(direct, forwarded):
        negative.append({"description": text, **{k: vector[k] for k in fields}})
        negative[-1]["verdict"] = verdict(negative[-1])
        assert negative[-1]["verdict"] != "verified", text
    positive = [direct, forwarded]
    for vector in positive:
        vector["verdict"] = verdict(vector)
        assert vector["verdict"] == "verified"
    return {
        "scheme": "hwc-envelope-v3",
        "about": "docs/envelope.md: version 2 plus the sending device's signature (signer, "
        "sig; origin on a forwarded copy) over hwc-envelope-sig-v3\\n + canonical flat "
        "statement; additional authenticated data hwc-envelope-v3\\n + canonical {device, "
        "head, signal}. signer_sig_key is the key the recipient takes from the signer "
        "organisation's key log; verdict is what the recipient must conclude.",
        "signing_keys": {device: key_entry(d) for device, d in SIGNING_D.items()},
        "positive": positive,
        "negative": negative,
    }


# Key rotation (issue 20 item 4): the device of POSITIVE[0] made a new key (fixed scalar).
NEW_KEY_D = "4a8f0e2d6c1b3a5978e6d4c2b0a9f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e"


def kept_opener(vector: dict) -> str | None:
    """Which of the kept keys opens the envelope, trying each in order (HKDF binds the
    recipient key, so a wrong key fails the tag); None when none does."""
    for name in vector["kept"]:
        key = load_private_key_raw(b64u_decode(vector["keys"][name]["d"]))
        try:
            decrypt_envelope(key, vector["signal_id"], vector["device_id"], vector["envelope"])
        except EnvelopeError:
            continue
        return name
    return None


def build_rotation() -> dict:
    spec = POSITIVE[0]
    keys = {"old": key_entry(spec["recipient_d"]), "new": key_entry(NEW_KEY_D)}
    before = positive(spec, HEAD)["envelope"]
    after = positive({**spec, "recipient_d": NEW_KEY_D}, HEAD)["envelope"]
    cases = [
        ("rotated key: sealed to the new key, both keys kept", after, ["new", "old"], "new"),
        ("sealed before the rotation, the old key still kept", before, ["new", "old"], "old"),
        ("old key after deletion: sealed to the old key, only the new key kept", before, ["new"]),
        ("an envelope to the new key never opens with the old key", after, ["old"]),
    ]
    vectors = []
    for description, envelope, kept, *opens in cases:
        vector = {
            "description": description,
            "keys": keys,
            "signal_id": b64u_encode(bytes.fromhex(spec["signal"])),
            "device_id": spec["device_id"],
            "envelope": envelope,
            "kept": kept,
            "opens_with": opens[0] if opens else None,
            "plaintext": encode_content(spec["name"], spec["birth_date"]).decode("utf-8"),
        }
        assert kept_opener(vector) == vector["opens_with"], description
        vectors.append(vector)
    return {
        "scheme": "hwc-envelope-rotation",
        "about": "docs/envelope.md, Which key: a device keeps its newest key and the old keys a "
        "live envelope may need, and opens an envelope with whichever kept key it was sealed "
        "to (trying each: HKDF binds the recipient key). kept lists the keys the device holds, "
        "in the order it tries them; opens_with is the one that opens it, or null.",
        "vectors": vectors,
    }


def main() -> None:
    outputs = (
        (OUT, build()),
        (OUT_V2, build_v2()),
        (OUT_V3, build_v3()),
        (OUT_ROTATION, build_rotation()),
    )
    for out, content in outputs:
        out.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
