"""hwc-envelope-v1 in Python: the committed vectors, shape checks, strictness, properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.envelope import (
    MAX_CT_BYTES,
    EnvelopeError,
    b64u_decode,
    b64u_encode,
    check_envelope_shape,
    decode_content,
    decrypt_envelope,
    encode_content,
    encrypt_envelope,
    generate_device_key,
    load_private_key_raw,
    new_signal_id,
    private_key_jwk,
    private_key_raw,
)

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "envelope-v1.json").read_text(encoding="utf-8")
)
# Version 2 (docs/keylog.md): the receiving organisation's key log head bound as aad.
VECTORS_V2 = json.loads(
    (Path(__file__).parent / "vectors" / "envelope-v2.json").read_text(encoding="utf-8")
)
POSITIVE = VECTORS["positive"]
NEGATIVE = VECTORS["negative"]
SIGNAL_ID = POSITIVE[0]["signal_id"]
DEVICE_ID = POSITIVE[0]["device_id"]


def key_of(entry: dict):
    return load_private_key_raw(b64u_decode(entry["d"]))


def describe(vector: dict) -> str:
    return vector["description"]


@pytest.fixture(scope="module")
def sample() -> tuple:
    key, public = generate_device_key()
    envelope = encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, encode_content("Zoë", "2015-03-02"))
    return key, envelope


# --- vectors ---------------------------------------------------------------------------------


def test_vectors_are_what_the_script_makes() -> None:
    from tests.vectors.make_vectors import build

    assert build() == VECTORS


@pytest.mark.parametrize("vector", POSITIVE, ids=describe)
def test_positive_vector_decrypts(vector: dict) -> None:
    plaintext = decrypt_envelope(
        key_of(vector["recipient"]), vector["signal_id"], vector["device_id"], vector["envelope"]
    )
    assert plaintext == vector["plaintext"].encode("utf-8")
    assert decode_content(plaintext) == vector["content"]
    assert encode_content(**vector["content"]) == plaintext


@pytest.mark.parametrize("vector", POSITIVE, ids=describe)
def test_positive_vector_reencrypts_identically(vector: dict) -> None:
    envelope = encrypt_envelope(
        b64u_decode(vector["recipient"]["public_key"]),
        vector["signal_id"],
        vector["device_id"],
        vector["plaintext"].encode("utf-8"),
        ephemeral_private_key=key_of(vector["ephemeral"]),
        salt=b64u_decode(vector["salt"]),
        iv=b64u_decode(vector["iv"]),
    )
    assert envelope == vector["envelope"]
    assert json.dumps(envelope) == json.dumps(vector["envelope"])  # key order too


@pytest.mark.parametrize("vector", POSITIVE, ids=describe)
def test_key_helpers_match_vector(vector: dict) -> None:
    key = key_of(vector["recipient"])
    assert b64u_encode(private_key_raw(key)) == vector["recipient"]["d"]
    assert private_key_jwk(key) == vector["recipient"]["jwk"]


@pytest.mark.parametrize("vector", [*NEGATIVE, *VECTORS_V2["negative"]], ids=describe)
def test_negative_vector_fails(vector: dict) -> None:
    with pytest.raises(EnvelopeError):
        decrypt_envelope(
            key_of(vector["recipient"]),
            vector["signal_id"],
            vector["device_id"],
            vector["envelope"],
        )


def test_wrong_recipient_key_fails() -> None:
    vector = POSITIVE[0]
    with pytest.raises(EnvelopeError):
        decrypt_envelope(
            key_of(POSITIVE[1]["recipient"]),
            vector["signal_id"],
            vector["device_id"],
            vector["envelope"],
        )


def test_error_never_holds_plaintext(sample: tuple) -> None:
    key, envelope = sample
    with pytest.raises(EnvelopeError) as caught:
        decrypt_envelope(key, SIGNAL_ID, "other", envelope)
    assert "Zo" not in str(caught.value) and caught.value.__cause__ is None


# --- the server's shape check ----------------------------------------------------------------


def test_shape_accepts_good(sample: tuple) -> None:
    check_envelope_shape(sample[1])
    for vector in POSITIVE:
        check_envelope_shape(vector["envelope"])


def _bad_shapes(env: dict) -> dict[str, object]:
    def with_bytes(name: str, data: bytes) -> dict:
        return {**env, name: b64u_encode(data)}

    epk = b64u_decode(env["epk"])
    without_v = {k: v for k, v in env.items() if k != "v"}
    return {
        "not a dict": [env],
        "None": None,
        "missing key": without_v,
        "extra key": {**env, "extra": "x"},
        "v is 2": {**env, "v": 2},
        "v is True": {**env, "v": True},
        "v is 1.0": {**env, "v": 1.0},
        "v is '1'": {**env, "v": "1"},
        "epk compressed": with_bytes("epk", bytes([2 + epk[-1] % 2]) + epk[1:33]),
        "epk prefix 05": with_bytes("epk", b"\x05" + epk[1:]),
        "epk 64 bytes": with_bytes("epk", epk[:64]),
        "epk off curve": with_bytes("epk", epk[:64] + bytes([epk[64] ^ 1])),
        "epk not a string": {**env, "epk": 4},
        "salt 15 bytes": with_bytes("salt", bytes(15)),
        "salt 17 bytes": with_bytes("salt", bytes(17)),
        "iv 11 bytes": with_bytes("iv", bytes(11)),
        "iv 13 bytes": with_bytes("iv", bytes(13)),
        "ct 16 bytes": with_bytes("ct", bytes(16)),
        "ct too long": with_bytes("ct", bytes(MAX_CT_BYTES + 1)),
        "ct huge text": {**env, "ct": "A" * 100_000},
        "ct padded": {**env, "ct": b64u_encode(bytes(17)) + "=="},
        "ct standard alphabet": {**env, "ct": b64u_encode(b"\xfb\xff" * 20).replace("_", "/")},
    }


def test_shape_edges_accepted(sample: tuple) -> None:
    env = sample[1]
    check_envelope_shape({**env, "ct": b64u_encode(bytes(17))})
    check_envelope_shape({**env, "ct": b64u_encode(bytes(MAX_CT_BYTES))})


@pytest.mark.parametrize("case", list(_bad_shapes(POSITIVE[0]["envelope"])))
def test_shape_refuses(case: str) -> None:
    bad = _bad_shapes(POSITIVE[0]["envelope"])[case]
    with pytest.raises(EnvelopeError) as caught:
        check_envelope_shape(bad)
    assert caught.value.args[0] and len(caught.value.args[0]) < 80
    with pytest.raises(EnvelopeError):  # and decryption refuses it the same way
        decrypt_envelope(key_of(POSITIVE[0]["recipient"]), SIGNAL_ID, DEVICE_ID, bad)


# --- base64url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "AA==",
        "AA=",
        "A",
        "AAAAA",
        "AB",
        "AAB",
        "A+",
        "A/",
        "A A",
        "AA\n",
        "é",
        "ÀA",
        "AA.",
    ],
)
def test_b64u_refuses(text: str) -> None:
    with pytest.raises(EnvelopeError):
        b64u_decode(text)


@pytest.mark.parametrize("value", [b"AA", None, 0, bytearray(b"AA")])
def test_b64u_refuses_non_str(value: object) -> None:
    with pytest.raises(EnvelopeError):
        b64u_decode(value)  # type: ignore[arg-type]


@given(st.binary(max_size=100))
def test_b64u_round_trip(data: bytes) -> None:
    text = b64u_encode(data)
    assert "=" not in text and b64u_decode(text) == data


def test_b64u_known_values() -> None:
    assert b64u_encode(b"") == "" and b64u_decode("") == b""
    assert b64u_encode(b"\xfb\xff\xbf") == "-_-_"
    assert b64u_decode("AQ") == b"\x01"


# --- content ---------------------------------------------------------------------------------


def test_content_is_compact_utf8() -> None:
    assert encode_content("Zoë", "2015-03-02") == (
        '{"name":"Zoë","birth_date":"2015-03-02"}'.encode()
    )


@pytest.mark.parametrize(
    "data",
    [
        b'{"name":"a"}',
        b'{"name":"a","birth_date":"b","x":"c"}',
        b'{"name":1,"birth_date":"b"}',
        b'{"name":"a","birth_date":null}',
        b'{"birth_date":"b","name":"a"}',
        b'{"name": "a", "birth_date": "b"}',
        b'{"name":"a","name":"z","birth_date":"b"}',
        b'{"name":"\\u00eb","birth_date":"b"}',
        b'{"name":"\\ud800","birth_date":"b"}',
        b'\xef\xbb\xbf{"name":"a","birth_date":"b"}',
        b'{"name":"\xff","birth_date":"b"}',
        b'["a","b"]',
        b"1" * 5000,
        b"",
    ],
)
def test_content_refuses(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        decode_content(data)


def test_content_refuses_lone_surrogate() -> None:
    with pytest.raises(EnvelopeError):
        encode_content("\ud800", "2015-03-02")


@settings(max_examples=50, deadline=None)
@given(name=st.text(max_size=100), birth_date=st.text(max_size=10))
def test_random_names_round_trip(name: str, birth_date: str) -> None:
    key, public = generate_device_key()
    envelope = encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, encode_content(name, birth_date))
    check_envelope_shape(envelope)
    opened = decrypt_envelope(key, SIGNAL_ID, DEVICE_ID, envelope)
    assert decode_content(opened) == {"name": name, "birth_date": birth_date}


# --- mutations -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_field_mutations_never_open(sample: tuple, data: st.DataObject) -> None:
    key, envelope = sample
    name = data.draw(st.sampled_from(["epk", "salt", "iv", "ct"]))
    raw = bytearray(b64u_decode(envelope[name]))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(EnvelopeError):
        decrypt_envelope(key, SIGNAL_ID, DEVICE_ID, {**envelope, name: b64u_encode(bytes(raw))})


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_json_byte_mutations_never_open(sample: tuple, data: st.DataObject) -> None:
    key, envelope = sample
    text = bytearray(json.dumps(envelope, separators=(",", ":")).encode())
    index = data.draw(st.integers(0, len(text) - 1))
    text[index] = data.draw(st.integers(0, 255).filter(lambda b: b != text[index]))
    try:
        mutated = json.loads(text)
    except ValueError:
        return  # not JSON any more: the HTTP layer refuses it before us
    with pytest.raises(EnvelopeError):
        decrypt_envelope(key, SIGNAL_ID, DEVICE_ID, mutated)


@settings(max_examples=100, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=90),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=6)
        ),
        max_leaves=10,
    )
)
def test_garbage_only_raises_envelope_error(sample: tuple, value: object) -> None:
    with pytest.raises(EnvelopeError):
        decrypt_envelope(sample[0], SIGNAL_ID, DEVICE_ID, value)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_garbage_fields_only_raise_envelope_error(sample: tuple, data: st.DataObject) -> None:
    key, envelope = sample
    name = data.draw(st.sampled_from(sorted(envelope)))
    value = data.draw(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=120)
        | st.binary(max_size=70).map(b64u_encode)
    )
    with pytest.raises(EnvelopeError):
        decrypt_envelope(key, SIGNAL_ID, DEVICE_ID, {**envelope, name: value})


@pytest.mark.parametrize(
    "ids", [("", DEVICE_ID), (SIGNAL_ID, ""), ("a|b", "c"), (None, "c"), (SIGNAL_ID, "\udc00")]
)
def test_bad_ids_refused(sample: tuple, ids: tuple) -> None:
    key, envelope = sample
    with pytest.raises(EnvelopeError):
        decrypt_envelope(key, ids[0], ids[1], envelope)


def test_encrypt_refuses_bad_inputs() -> None:
    key, public = generate_device_key()
    content = encode_content("a", "b")
    with pytest.raises(EnvelopeError):
        encrypt_envelope(public[:64], SIGNAL_ID, DEVICE_ID, content)
    with pytest.raises(EnvelopeError):
        encrypt_envelope(public[:64] + bytes([public[64] ^ 1]), SIGNAL_ID, DEVICE_ID, content)
    with pytest.raises(EnvelopeError):
        encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, b"")
    with pytest.raises(EnvelopeError):
        encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, bytes(MAX_CT_BYTES - 15))
    with pytest.raises(EnvelopeError):
        encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, content, salt=bytes(15))
    with pytest.raises(EnvelopeError):
        encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, content, iv=bytes(16))
    envelope = encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, bytes(MAX_CT_BYTES - 16))
    assert len(decrypt_envelope(key, SIGNAL_ID, DEVICE_ID, envelope)) == MAX_CT_BYTES - 16


def test_private_key_loading_refuses_bad_scalars() -> None:
    for d in (bytes(32), b"\xff" * 32, bytes(31)):
        with pytest.raises(EnvelopeError):
            load_private_key_raw(d)


def test_generated_key_is_p256_point() -> None:
    key, public = generate_device_key()
    assert len(public) == 65 and public[0] == 4 and len(private_key_raw(key)) == 32


def test_signal_ids_start_with_the_time() -> None:
    # The same 8 characters as in tests/js/envelope.test.mjs: both clients lay ids out alike.
    ids = [new_signal_id(1_790_000_000.5) for _ in range(100)]
    assert all(i.startswith("AaDEUG30") and len(b64u_decode(i)) == 16 for i in ids)
    assert len({b64u_decode(i)[6:] for i in ids}) == 100  # the other 10 bytes are random
    later = b64u_decode(new_signal_id(1_790_000_000.501))
    assert all(later > b64u_decode(i) for i in ids)


# --- version 2 (docs/keylog.md): the key log head bound as authenticated data ----------------


def test_v2_vectors_are_what_the_script_makes() -> None:
    from tests.vectors.make_vectors import build_v2

    assert build_v2() == VECTORS_V2


@pytest.mark.parametrize("vector", VECTORS_V2["positive"], ids=describe)
def test_v2_vector_opens(vector: dict) -> None:
    envelope = vector["envelope"]
    assert envelope["v"] == 2 and set(envelope["head"]) == {"org", "size", "hash"}
    check_envelope_shape(envelope)
    plaintext = decrypt_envelope(
        key_of(vector["recipient"]), vector["signal_id"], vector["device_id"], envelope
    )
    assert plaintext.decode("utf-8") == vector["plaintext"]


def test_v2_needs_ids_of_the_key_log_form() -> None:
    _, public = generate_device_key()
    head = VECTORS_V2["positive"][0]["envelope"]["head"]
    with pytest.raises(EnvelopeError):
        encrypt_envelope(public, SIGNAL_ID, "dev.ice", b"{}", head=head)
