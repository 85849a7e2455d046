"""The key log (docs/keylog.md): canonical bytes, hashes, validation, derived state, heads.

Pure functions, no database: the server uses them to append, `hwc send` and `hwc audit` to
verify, and `pwa/keylog.js` implements the same text (tests/vectors/keylog/ holds both to it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from server.envelope import EnvelopeError, b64u_decode, b64u_encode, canonical, public_key_raw

ZERO = "0" * 64
ROLES = ("admin", "sender", "contact", "teacher", "officer")
HOWS = ("link", "contact", "approved", "migrated")
RECEIVING_ROLE = {"school": "contact", "leerplicht": "officer"}  # who receives a signal
COMMON = frozenset({"org", "seq", "prev", "at", "kind", "by"})
KIND_FIELDS = {
    "person_added": frozenset({"person", "role"}),
    "role_changed": frozenset({"person", "role"}),
    "person_revoked": frozenset({"person"}),
    "device_added": frozenset({"person", "device", "enc_key", "sig_key", "how"}),
    "device_revoked": frozenset({"person", "device"}),
    "person_reset": frozenset({"person"}),
    "key_rotated": frozenset({"person", "device", "enc_key", "signature"}),
    "machine_added": frozenset({"device", "sig_key", "approver", "approval"}),
    "machine_revoked": frozenset({"device"}),
}
APPROVAL_FIELDS = frozenset({"approver", "approval"})
GENESIS_KINDS = ("person_added", "device_added")
APPROVE_LABEL = b"hwc-approve-device-v1\n"
ROTATE_LABEL = b"hwc-rotate-key-v1\n"
HEAD_LABEL = b"hwc-keylog-head-v1\n"
CODE_LABEL = b"hwc-device-code-v1\n"
MACHINE_APPROVE_LABEL = b"hwc-approve-machine-v1\n"
MACHINE_CODE_LABEL = b"hwc-machine-code-v1\n"
MACHINE_DEVICE_LABEL = b"hwc-machine-device-v1\n"
MACHINE_APPROVERS = ("sender", "admin")  # the roles whose devices may approve a sending system
HEAD_FIELDS = ("org", "size", "hash")  # a tuple: heads print in this order

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HASH = re.compile(r"[0-9a-f]{64}")
_BY = re.compile(r"server|(admin|device|person):[A-Za-z0-9_-]{1,64}")


class LogError(ValueError):
    """A log that breaks a rule; the message names the entry and the rule (no personal data)."""


class LogFork(LogError):
    """A valid log that does not extend the head the client remembered: a fork or a rewrite."""


# --- encodings -------------------------------------------------------------------------------


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def approval_statement(org: str, person: str, device: str, enc_key: str, sig_key: str) -> bytes:
    values = {"device": device, "enc_key": enc_key, "org": org, "person": person}
    return APPROVE_LABEL + canonical(values | {"sig_key": sig_key})


def rotation_statement(org: str, person: str, device: str, enc_key: str) -> bytes:
    """What a device signs with its own sig_key to announce its new ECDH key (key_rotated)."""
    return ROTATE_LABEL + canonical(
        {"device": device, "enc_key": enc_key, "org": org, "person": person}
    )


def machine_statement(org: str, device: str, sig_key: str) -> bytes:
    """What a person's device signs to approve a sending system's key (`machine_added`)."""
    return MACHINE_APPROVE_LABEL + canonical({"device": device, "org": org, "sig_key": sig_key})


def head_statement(head: dict[str, Any]) -> bytes:
    return HEAD_LABEL + canonical({k: head[k] for k in HEAD_FIELDS})


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    """ECDSA P-256 / SHA-256 in IEEE P1363 form (r||s), as WebCrypto signs. Deterministic
    nonces (RFC 6979): no weak random source can leak the key, and vectors are reproducible."""
    der = key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return b64u_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def verify(public_key: str, message: bytes, signature: str) -> bool:
    """True when `signature` (P1363, base64url) is `public_key`'s over `message`."""
    try:
        raw, sig = b64u_decode(public_key), b64u_decode(signature)
        if len(sig) != 64 or len(raw) != 65 or raw[0] != 4:
            return False
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        point.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except (EnvelopeError, ValueError, InvalidSignature):
        return False
    return True


def public_b64u(key: ec.EllipticCurvePrivateKey) -> str:
    return b64u_encode(public_key_raw(key))


def comparison_code(enc_key: str, sig_key: str) -> str:
    """Six digits shown on the new device and on the approving one: '482 731'."""
    return _six_digits(CODE_LABEL + b64u_decode(enc_key) + b64u_decode(sig_key))


def machine_device_id(sig_key: str) -> str:
    """A sending system's id in the log and in its envelopes (docs/envelope.md, `hwc send`):
    made from its key, so the same on every send; 22 characters of the key log's id form."""
    digest = hashlib.sha256(MACHINE_DEVICE_LABEL + b64u_decode(sig_key)).digest()
    return "m-" + b64u_encode(digest[:15])


def machine_code(sig_key: str) -> str:
    """Six digits `hwc register-key` prints and the approving phone shows for a system's key."""
    return _six_digits(MACHINE_CODE_LABEL + b64u_decode(sig_key))


def _six_digits(data: bytes) -> str:
    number = int.from_bytes(hashlib.sha256(data).digest()[:4], "big") % 1_000_000
    return f"{number // 1000:03d} {number % 1000:03d}"


# --- the derived state -----------------------------------------------------------------------


@dataclass
class Device:
    person: str
    enc_key: str
    sig_key: str
    active: bool = True


@dataclass
class Machine:
    """A sending system's signing key (`hwc send`): it signs, it never receives."""

    sig_key: str
    active: bool = True


@dataclass
class State:
    """People {id: role, revoked} and devices {id: person, keys, active} after a valid log."""

    org: str
    size: int = 0
    hash: str = ZERO
    at: int = 0
    genesis: bool = True  # still inside the genesis prefix
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    machines: dict[str, Machine] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)

    def active_devices(self, person: str) -> list[str]:
        return [i for i, d in self.devices.items() if d.active and d.person == person]

    def head(self) -> dict[str, Any]:
        return {"org": self.org, "size": self.size, "hash": self.hash}


def _fail(entry: dict[str, Any], index: int, rule: str) -> LogError:
    kind = entry.get("kind") if isinstance(entry, dict) else None
    return LogError(f"entry {index} ({kind}): {rule}")


_PRINTABLE = re.compile(r"[\x20-\x7e]*")
MAX_SAFE = 2**53  # JavaScript's safe integers


def _is_text(value: object) -> bool:
    # Printable ASCII only: Python escapes DEL (and controls) where JavaScript may not.
    return isinstance(value, str) and _PRINTABLE.fullmatch(value) is not None


def _is_count(value: object) -> bool:
    return type(value) is int and 0 <= value < MAX_SAFE


def _is_key(value: object) -> bool:
    if not _is_text(value):
        return False
    try:
        raw = b64u_decode(str(value))
    except EnvelopeError:
        return False
    return len(raw) == 65 and raw[0] == 4


is_key = _is_key  # a well-formed public key field, for the routes that take one


def _check_shape(entry: object, index: int) -> None:
    """Field set and well-formed values (the first paragraph of the validation rules)."""
    if not isinstance(entry, dict):
        raise LogError(f"entry {index}: not an object")
    kind = entry.get("kind")
    if kind not in KIND_FIELDS:
        raise _fail(entry, index, "unknown kind")
    wanted = COMMON | KIND_FIELDS[kind]
    if kind == "device_added" and entry.get("how") == "approved":
        wanted = wanted | APPROVAL_FIELDS
    if set(entry) != wanted:
        raise _fail(entry, index, "fields are not exactly those of its kind")
    for name, value in entry.items():
        if not (_is_count(value) if name in ("seq", "at") else _is_text(value)):
            raise _fail(entry, index, f"{name} is not a well-formed value")
    _check_values(entry, index)


def _check_values(entry: dict[str, Any], index: int) -> None:
    checks: dict[str, Callable[[Any], Any]] = {
        "org": lambda v: _ID.fullmatch(v),
        "prev": lambda v: _HASH.fullmatch(v),
        "by": lambda v: _BY.fullmatch(v),
        "person": lambda v: _ID.fullmatch(v),
        "device": lambda v: _ID.fullmatch(v),
        "approver": lambda v: _ID.fullmatch(v),
        "role": lambda v: v in ROLES,
        "how": lambda v: v in HOWS,
        "enc_key": _is_key,
        "sig_key": lambda v: _is_key(v) or (v == "" and entry.get("how") == "migrated"),
        "approval": lambda v: _is_text(v) and len(v) == 86,
        "signature": lambda v: _is_text(v) and len(v) == 86,
    }
    for name, check in checks.items():
        if name in entry and not check(entry[name]):
            raise _fail(entry, index, f"{name} is not a well-formed value")


def _live_person(state: State, entry: dict[str, Any], index: int) -> dict[str, Any]:
    person = state.people.get(entry["person"])
    if person is None or person["revoked"]:
        raise _fail(entry, index, "the person does not exist or is revoked")
    return person


def _end_devices(state: State, person: str) -> None:
    for device_id in state.active_devices(person):
        state.devices[device_id].active = False


def _apply_device_added(state: State, entry: dict[str, Any], index: int) -> None:
    _live_person(state, entry, index)
    keys = [k for k in (entry["enc_key"], entry["sig_key"]) if k]
    if _seen(state, entry["device"], keys) or len(set(keys)) < len(keys):
        raise _fail(entry, index, "device id or key seen before in this log")
    how, person = entry["how"], entry["person"]
    if how in ("link", "contact") and state.active_devices(person):
        raise _fail(entry, index, "a first device beside an active device")
    if how == "migrated" and (not state.genesis or entry["by"] != "server"):
        raise _fail(entry, index, "migrated outside the genesis prefix")
    if how == "approved":
        _check_approval(state, entry, index)
    state.devices[entry["device"]] = Device(person, entry["enc_key"], entry["sig_key"])
    state.keys.update(keys)


def _seen(state: State, device: str, keys: list[str]) -> bool:
    """Whether a device id (of a person's device or a machine) or a key was ever in the log."""
    return device in state.devices or device in state.machines or bool(state.keys & set(keys))


def _apply_machine_added(state: State, entry: dict[str, Any], index: int) -> None:
    if _seen(state, entry["device"], [entry["sig_key"]]):
        raise _fail(entry, index, "device id or key seen before in this log")
    approver = _machine_approver(state, entry)
    if approver is None:
        raise _fail(entry, index, "approver is not an active device of a sender or admin")
    statement = machine_statement(state.org, entry["device"], entry["sig_key"])
    if not approver.sig_key or not verify(approver.sig_key, statement, entry["approval"]):
        raise _fail(entry, index, "approval does not verify under the approver's key")
    state.machines[entry["device"]] = Machine(entry["sig_key"])
    state.keys.add(entry["sig_key"])


def _machine_approver(state: State, entry: dict[str, Any]) -> Device | None:
    """The approving device, when it is active, acts itself (`by`) and its person, not revoked,
    has a role that sends or administers this organisation."""
    approver = state.devices.get(entry["approver"])
    if approver is None or not approver.active or entry["by"] != f"device:{entry['approver']}":
        return None
    person = state.people[approver.person]
    return None if person["revoked"] or person["role"] not in MACHINE_APPROVERS else approver


def _apply_machine_revoked(state: State, entry: dict[str, Any], index: int) -> None:
    machine = state.machines.get(entry["device"])
    if machine is None or not machine.active:
        raise _fail(entry, index, "the machine is not active")
    machine.active = False


def _check_approval(state: State, entry: dict[str, Any], index: int) -> None:
    approver = state.devices.get(entry["approver"])
    if approver is None or not approver.active or approver.person != entry["person"]:
        raise _fail(entry, index, "approver is not an active device of the same person")
    statement = approval_statement(
        state.org, entry["person"], entry["device"], entry["enc_key"], entry["sig_key"]
    )
    if not approver.sig_key or not verify(approver.sig_key, statement, entry["approval"]):
        raise _fail(entry, index, "approval does not verify under the approver's key")


def _apply_key_rotated(state: State, entry: dict[str, Any], index: int) -> None:
    """The device's own signature announces its new ECDH key; recipients get the newest."""
    _live_person(state, entry, index)
    device = state.devices.get(entry["device"])
    if device is None or not device.active or device.person != entry["person"]:
        raise _fail(entry, index, "the device is not active or not the person's")
    if entry["by"] != f"device:{entry['device']}":
        raise _fail(entry, index, "a key is rotated only by its own device")
    if entry["enc_key"] in state.keys:
        raise _fail(entry, index, "device id or key seen before in this log")
    statement = rotation_statement(state.org, entry["person"], entry["device"], entry["enc_key"])
    if not device.sig_key:
        raise _fail(entry, index, "the device has no sig_key to sign with")
    if not verify(device.sig_key, statement, entry["signature"]):
        raise _fail(entry, index, "signature does not verify under the device's key")
    device.enc_key = entry["enc_key"]
    state.keys.add(entry["enc_key"])


def _apply_kind(state: State, entry: dict[str, Any], index: int) -> None:
    kind = entry["kind"]
    if kind == "person_added":
        if entry["person"] in state.people:
            raise _fail(entry, index, "the person exists already")
        state.people[entry["person"]] = {"role": entry["role"], "revoked": False}
    elif kind == "role_changed":
        _live_person(state, entry, index)["role"] = entry["role"]
    elif kind == "device_added":
        _apply_device_added(state, entry, index)
    elif kind == "key_rotated":
        _apply_key_rotated(state, entry, index)
    elif kind == "device_revoked":
        device = state.devices.get(entry["device"])
        if device is None or not device.active or device.person != entry["person"]:
            raise _fail(entry, index, "the device is not active or not the person's")
        device.active = False
    elif kind == "machine_added":
        _apply_machine_added(state, entry, index)
    elif kind == "machine_revoked":
        _apply_machine_revoked(state, entry, index)
    elif kind == "person_reset":
        _live_person(state, entry, index)
        _end_devices(state, entry["person"])
    else:  # person_revoked
        _live_person(state, entry, index)["revoked"] = True
        _end_devices(state, entry["person"])


def apply(state: State, entry: object) -> str:
    """Check one entry against the state so far and apply it; returns its hash."""
    index = state.size
    _check_shape(entry, index)
    assert isinstance(entry, dict)
    if entry["seq"] != index or entry["org"] != state.org or entry["prev"] != state.hash:
        raise _fail(entry, index, "seq, org or prev does not follow the entry before")
    if entry["at"] < state.at:
        raise _fail(entry, index, "at is earlier than the entry before")
    _apply_kind(state, entry, index)
    in_genesis = entry["by"] == "server" and (
        entry["kind"] == "person_added"
        or (entry["kind"] == "device_added" and entry["how"] == "migrated")
    )
    state.genesis = state.genesis and in_genesis
    state.size, state.hash, state.at = index + 1, entry_hash(entry), entry["at"]
    return state.hash


def derive(org: str, entries: Iterable[object]) -> State:
    """The derived state of a whole log; LogError at the first entry that breaks a rule."""
    state = State(org)
    for entry in entries:
        apply(state, entry)
    return state


def recipients(state: State, roles: Iterable[str]) -> list[dict[str, str]]:
    """Active devices of unrevoked people with a role in `roles`, as {id, enc_key}, by id."""
    wanted = set(roles)
    return sorted(
        (
            {"id": device_id, "enc_key": device.enc_key}
            for device_id, device in state.devices.items()
            if device.active
            and not state.people[device.person]["revoked"]
            and state.people[device.person]["role"] in wanted
        ),
        key=lambda d: d["id"],
    )


# --- heads -----------------------------------------------------------------------------------


def sign_head(key: ec.EllipticCurvePrivateKey, head: dict[str, Any]) -> dict[str, Any]:
    plain = {k: head[k] for k in HEAD_FIELDS}
    return plain | {"sig": sign(key, head_statement(plain))}


def check_head(log_key: str, head: object, org: str | None = None) -> dict[str, Any]:
    """A signed head's plain part, when well formed and signed by `log_key`; else LogError."""
    if not isinstance(head, dict) or set(head) != {*HEAD_FIELDS, "sig"}:
        raise LogError("head: fields are not org, size, hash, sig")
    if not (_is_text(head["org"]) and _is_count(head["size"]) and _is_text(head["hash"])):
        raise LogError("head: values are not well formed")
    if org is not None and head["org"] != org:
        raise LogError("head: another organisation's head")
    plain = {k: head[k] for k in HEAD_FIELDS}
    if not _is_text(head["sig"]) or not verify(log_key, head_statement(plain), head["sig"]):
        raise LogError("head: the signature does not verify under the log key")
    return plain


def chain_head(org: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The head naming the last of `entries` (unvalidated: for the server's own appended log)."""
    last = entry_hash(entries[-1]) if entries else ZERO
    return {"org": org, "size": len(entries), "hash": last}


def consistent(entries: list[dict[str, Any]], size: int, hash_: str) -> bool:
    """Whether the log extends the remembered head (size, hash): append-only, no fork."""
    if size == 0:
        return True
    return len(entries) >= size and entry_hash(entries[size - 1]) == hash_


def verify_log(
    log_key: str,
    org: str,
    entries: list[dict[str, Any]],
    head: object,
    remembered: tuple[int, str] | None = None,
) -> State:
    """Everything a client checks before trusting a log: chain and rules, the signed head that
    names exactly this log, and consistency with the head it remembered."""
    plain = check_head(log_key, head, org)
    state = derive(org, entries)
    if plain["size"] != state.size or plain["hash"] != state.hash:
        raise LogError("head: does not name the last entry of this log (truncated or changed)")
    if remembered is not None and not consistent(entries, *remembered):
        raise LogFork("log does not extend the remembered head (fork or rewrite)")
    return state
