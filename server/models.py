"""Request bodies, decoded strictly by msgspec: unknown fields, wrong types, sizes refused.

These types are also the source of the OpenAPI document's request schemas.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, ClassVar, Literal

from msgspec import Meta, Struct, field

from server.calendar import QUIET_OFF, QUIET_PATTERN
from server.policy import CSV_MAX_BYTES, MAX_ENVELOPES, MAX_TEACHERS
from server.states import CloseReason

B64U = "^[A-Za-z0-9_-]*$"
# No control characters (NUL, escape sequences...) in a one-line value such as a token;
# a CSV may hold tabs and line breaks, nothing else below U+0020.
LINE = r"^[^\u0000-\u001f\u007f]*$"
CSV_TEXT = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
# What a person's name or a label must never hold, because it is invisible or disguises the
# text around it: controls (C0, DEL, C1), line and paragraph separators, bidi embeddings,
# overrides, isolates and marks (U+061C, U+200E/F, U+202A-202E, U+2066-2069), and zero-width
# characters (U+200B-200D, U+2060-2064, U+FEFF). "\u202eevil" would show as "live".
HIDDEN = (
    r"\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    r"\u2066-\u2069\ufeff"
)
HIDDEN_CHARACTER = re.compile(f"[{HIDDEN}]")
# Checked by Form.__post_init__ (with a Dutch message); the pattern only documents the rule.
FREE_TEXT = {"pattern": f"^[^{HIDDEN}]*$"}
Id = Annotated[str, Meta(min_length=1, max_length=32, pattern=B64U)]
SignalId = Annotated[str, Meta(min_length=22, max_length=22, pattern=B64U)]
PublicKey = Annotated[str, Meta(min_length=87, max_length=87, pattern=B64U)]
Label = Annotated[str, Meta(min_length=1, max_length=60, extra_json_schema=FREE_TEXT)]
Text = Annotated[str, Meta(min_length=1, max_length=120, extra_json_schema=FREE_TEXT)]
OptionalText = Annotated[str, Meta(max_length=120, extra_json_schema=FREE_TEXT)]
Region = Literal["noord", "midden", "zuid"]
# A phone number as people write it: digits, spaces, +, -, brackets.
PhoneNumber = Annotated[str, Meta(max_length=20, pattern=r"^[0-9+() -]*$")]
Role = Literal["admin", "sender", "contact", "teacher", "officer"]


class Strict(Struct, forbid_unknown_fields=True):
    pass


class TextRefused(ValueError):
    """A free-text value holds a hidden character; the message says so in Dutch."""


def check_text(what: str, value: str) -> None:
    if HIDDEN_CHARACTER.search(value):
        raise TextRefused(
            f"{what} bevat een onzichtbaar teken, een stuurteken of een teken dat de "
            "leesrichting omdraait. Typ de tekst opnieuw in, zonder kopiëren en plakken."
        )


class Form(Strict):
    """A body with text a person typed. Its free-text fields (name -> how the message names
    it) are checked however the struct is made: decoded from JSON, read from a CSV row or
    built by the CLI, so the API, the admin pages and the imports share one rule."""

    free_text: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        for name, what in self.free_text.items():
            check_text(what, getattr(self, name))


class PushKeys(Strict):
    p256dh: Annotated[str, Meta(min_length=87, max_length=87, pattern=B64U)]
    auth: Annotated[str, Meta(min_length=16, max_length=32, pattern=B64U)]


class PushSubscription(Strict):
    # A URL: no spaces or control characters (http only for the loopback fake in tests).
    endpoint: Annotated[
        str, Meta(min_length=10, max_length=1000, pattern=r"^https?://[^\u0000-\u0020\u007f]+$")
    ]
    keys: PushKeys
    expirationTime: int | None = None  # noqa: N815 - the browser's own field name


class EnrolRequest(Form):
    free_text: ClassVar[dict[str, str]] = {"label": "De naam van dit apparaat"}

    token: Annotated[str, Meta(min_length=10, max_length=300, pattern=LINE)]
    public_key: PublicKey
    sig_key: PublicKey  # the device's ECDSA key (docs/keylog.md)
    label: Label
    push: PushSubscription | None = None


Signature = Annotated[str, Meta(min_length=86, max_length=86, pattern=B64U)]


class Approval(Strict):
    """A person's device approves a pending one: its signature over the approval statement."""

    approval: Signature


class KeyRotation(Strict):
    """A device's new ECDH key, signed with its own signing key (docs/keylog.md)."""

    enc_key: PublicKey
    signature: Signature


class MachineKey(Strict):
    """`hwc register-key`: a sending system's public signing key (docs/keylog.md)."""

    sig_key: PublicKey


SecurityKind = Literal[
    "log_invalid",  # a log that breaks a rule or a head that does not verify
    "log_fork",  # a log that does not extend the head the client remembered
    "recipients_mismatch",  # the server's recipient list is not the log's
    "head_mismatch",  # an envelope's head is not consistent with the recipient's own view
    "unapproved_device",  # self-monitoring: a device this person's devices did not approve
    "unexpected_reset",  # self-monitoring: a reset or revocation the person did not make
    "bad_signature",  # a signed envelope (docs/envelope.md) not its claimed sender's; org: that
]


class SecurityEvent(Strict):
    """What a client detected, without personal data: a kind and the organisation concerned."""

    kind: SecurityKind
    org: Id


class PushUpdate(Strict):
    push: PushSubscription | None


class QuietUpdate(Strict):
    # null: the default hours; "off": always at once ("altijd direct"); or other hours.
    quiet_hours: Annotated[str, Meta(pattern=f"^({QUIET_OFF}|{QUIET_PATTERN.pattern})$")] | None


class EnvelopeHead(Strict):
    """Envelope version 2: the receiving organisation's key log head the sender verified."""

    org: Id
    size: Annotated[int, Meta(ge=0)]
    hash: Annotated[str, Meta(min_length=64, max_length=64, pattern="^[0-9a-f]*$")]


class EnvelopeParty(Strict):
    """Envelope version 3 (docs/envelope.md): the signing device, or a forward's origin."""

    org: Id
    device: Id


class Envelope(Strict, omit_defaults=True):
    v: int
    epk: PublicKey
    salt: Annotated[str, Meta(min_length=22, max_length=22, pattern=B64U)]
    iv: Annotated[str, Meta(min_length=16, max_length=16, pattern=B64U)]
    ct: Annotated[str, Meta(min_length=23, max_length=1366, pattern=B64U)]
    head: EnvelopeHead | None = None
    signer: EnvelopeParty | None = None
    origin: EnvelopeParty | None = None
    sig: Annotated[str, Meta(min_length=86, max_length=86, pattern=B64U)] | None = None


class DeviceEnvelope(Strict):
    device_id: Id
    envelope: Envelope


Envelopes = Annotated[list[DeviceEnvelope], Meta(min_length=1, max_length=MAX_ENVELOPES)]


class NewSignal(Strict):
    id: SignalId
    recipient_id: Id
    envelopes: Envelopes


class Forward(Strict):
    teachers: Annotated[list[Id], Meta(min_length=1, max_length=MAX_TEACHERS)]
    envelopes: Envelopes


class Relay(Strict):
    school_id: Id
    envelopes: Envelopes


class Close(Strict):
    reason: CloseReason


# --- admin ---------------------------------------------------------------------------------


class NewOrg(Form):
    free_text: ClassVar[dict[str, str]] = {
        "name": "De naam",
        "place": "De plaats",
        "municipalities": "De lijst van gemeenten",
    }

    kind: Literal["school", "veilig_thuis", "leerplicht"]
    name: Text
    place: OptionalText = ""
    code: Annotated[str, Meta(max_length=12, pattern="^[0-9A-Z]*$")] = ""
    region: Region | None = None
    municipalities: Annotated[str, Meta(max_length=500, extra_json_schema=FREE_TEXT)] = ""
    route: Literal["school", "leerplicht"] = "school"
    phone: PhoneNumber = ""
    region_id: Id | None = None  # the region it belongs to (a region admin's own, always)


Municipalities = Annotated[str, Meta(max_length=4000, extra_json_schema=FREE_TEXT)]


class NewRegion(Form):
    free_text: ClassVar[dict[str, str]] = {
        "name": "De naam",
        "municipalities": "De lijst van gemeenten",
    }

    name: Text
    municipalities: Municipalities = ""


class RegionMunicipalities(Form):
    free_text: ClassVar[dict[str, str]] = {"municipalities": "De lijst van gemeenten"}

    municipalities: Municipalities = ""


class OrgPhone(Strict):
    phone: PhoneNumber = ""  # empty (the admin pages leave an empty field out): no number


class OrgRegion(Strict):
    region: Region | None = None  # none (the admin pages leave the empty choice out): its own


class SchoolCsv(Strict):
    csv: Annotated[str, Meta(min_length=1, max_length=CSV_MAX_BYTES, pattern=CSV_TEXT)]


class FreeDays(Strict):
    start: date = field(name="from")
    end: date | None = field(default=None, name="to")


class FreeDaysCsv(Strict):
    csv: Annotated[str, Meta(min_length=1, max_length=CSV_MAX_BYTES, pattern=CSV_TEXT)]


class NewPerson(Form):
    free_text: ClassVar[dict[str, str]] = {"name": "De naam", "class_label": "De groep"}

    name: Text
    role: Role
    org_id: Id | None = None
    class_label: Annotated[str, Meta(max_length=40, extra_json_schema=FREE_TEXT)] = ""
    region_id: Id | None = None  # a region admin's region (role admin, no organisation)


class NewApiKey(Form):
    free_text: ClassVar[dict[str, str]] = {"label": "De omschrijving van de sleutel"}

    org_id: Id
    label: Label


# --- responses -----------------------------------------------------------------------------
# The routes build plain dicts; these types only describe them in the OpenAPI document, and
# tests/test_schema_fuzz.py checks every live response against them. Unknown fields are
# refused there too, so nothing (least of all content) slips into a response undocumented.


class Reply(Struct, forbid_unknown_fields=True):
    pass


SignalState = Literal[
    "sent", "opened", "relayed", "forwarded", "viewed", "done", "closed", "expired", "gone"
]


class PersonInfo(Reply):
    id: str
    name: str
    role: Role
    role_label: str  # the role's one Dutch spelling (server/policy.py)
    class_label: str


class OrgInfo(Reply):
    id: str
    name: str
    kind: Literal["school", "veilig_thuis", "leerplicht"]
    route: Literal["school", "leerplicht"]


class DeviceInfo(Reply):
    id: str
    label: str
    public_key: str
    sig_key: str  # "" for a device enrolled before signing keys
    push: Literal["none", "active", "gone"]
    quiet_hours: str | None


class PendingDeviceInfo(Reply):
    id: str
    label: str


class ChildRule(Reply):
    """What a sender may send: the app's form checks it before encrypting."""

    name_max: int
    name_pattern: str  # a JavaScript regular expression (flag u)
    age_min: int
    age_max: int


class AppPolicy(Reply):
    max_teachers: int
    view_extend_minutes: int
    view_max_extensions: int
    key_rotation_days: int  # a device makes a new key when its own is this old
    child: ChildRule


class Me(Reply):
    person: PersonInfo
    org: OrgInfo | None
    device: DeviceInfo
    view_grace_minutes: int
    max_days: int  # a signal expires at most this long after sending: no old key outlives it
    enrol_token_days: int
    enrol_retry_minutes: int  # how long a link stays usable when the browser dropped the cookie
    default_quiet_hours: str  # quiet_hours of a device that has none of its own
    policy: AppPolicy  # what the app states or checks (server/policy.py)
    signed_from: float | None  # HWC_SIGNED_FROM as a Unix time (docs/envelope.md), or None
    pending: bool  # False here; a pending device gets PendingMe
    code: str  # this device's comparison code ("" without a signing key)
    devices: list[PendingDeviceInfo]  # the person's other active devices: {id, label}


class PendingMe(Reply):
    """GET /api/me of a device that waits for approval: nothing but its code."""

    pending: bool
    code: str
    device: PendingDeviceInfo


class PendingDevice(Reply):
    id: str
    label: str
    enc_key: str
    sig_key: str
    created_at: float
    code: str


class MachineKeyState(Reply):
    """A sending system's key as `hwc register-key` hears of it (docs/keylog.md)."""

    id: str
    org: str
    state: Literal["pending", "approved", "declined", "revoked"]
    code: str


class MachineKeyListed(MachineKeyState):
    """As a sender's phone lists it: the key itself (its code is computed on the phone)."""

    sig_key: str
    label: str
    at: float


class LogKey(Reply):
    key: str


class SignedHead(Reply):
    org: str
    size: int
    hash: str
    sig: str


class OrgLog(Reply):
    org: str
    entries: list[dict[str, str | int]]
    head: SignedHead


class Recorded(Reply):
    recorded: bool


class Approved(Reply):
    approved: bool


class KeyRotated(Reply):
    enc_key: str
    rotated_at: str


class OldKey(Reply):
    enc_key: str
    replaced_at: str
    needed_until: str | None  # None: no live envelope needs it; destroy it


class OldKeys(Reply):
    keys: list[OldKey]


class Declined(Reply):
    declined: bool


class SecurityNotice(Reply):
    """A security event about the caller's own organisation, as its people see it."""

    at: float
    kind: str
    label: str


class SecurityEventRow(Reply):
    at: float
    kind: str
    org_id: str | None
    org_name: str | None
    reporter_org_id: str | None


class ActRef(Reply):
    """Who acted, or whom an act was about; name null once the person was erased."""

    id: str | None
    role: str | None
    name: str | None
    kind: str = "person"


class AdminAct(Reply):
    """One row of the admin audit trail (server/adminlog.py), with its Dutch sentence."""

    at: float
    act: str
    text: str
    actor: ActRef
    person: ActRef
    device_id: str | None
    api_key_id: str | None


class Statement(Reply):
    organisation: str
    email: str
    phone: str
    configured: bool
    view_grace_minutes: int
    view_extend_minutes: int
    view_max_extensions: int


class Revoked(Reply):
    revoked: bool


class Erased(Reply):
    erased: bool


class PushKey(Reply):
    public_key: str


class SchoolHit(Reply):
    id: str
    kind: Literal["school", "veilig_thuis", "leerplicht"]
    name: str
    place: str
    code: str | None
    municipalities: str


class RecipientDevice(Reply):
    device_id: str
    public_key: str


class Recipients(Reply):
    org: str  # the receiving organisation: the key log the client checks them against
    devices: list[RecipientDevice]
    deadline: str
    expires_at: str
    holiday_warning: str | None
    notify_at: str  # when the first of these devices would get its push (quiet hours)


class Sent(Reply):
    id: str
    ref: str
    deadline: str
    expires_at: str
    holiday_warning: str | None


class TimelineEvent(Reply):
    at: str
    kind: str
    count: int | None
    detail: str | None


class ChosenTeacher(Reply):
    name: str
    class_label: str
    viewed: bool


class SignalSummary(Reply):
    """Status and timeline, never content; the optional fields depend on the caller's role."""

    id: str
    ref: str
    state: SignalState
    sent_at: str
    deadline: str
    expires_at: str
    escalated: bool
    close_reason: str | None
    school: str | None
    holder: str
    holder_kind: str
    holder_phone: str
    sender: str
    sender_phone: str
    timeline: list[TimelineEvent] = []
    has_copy: bool = False
    acted_by: str | None = None
    acted_by_me: bool = False
    teachers: list[ChosenTeacher] = []
    sent_by_us: bool = False


class ClaimedPerson(Reply):
    person: str
    name: str
    role_label: str


class ClaimedNames(Reply):
    """Names for the ids a version 3 envelope claims (server/parties.py); the app shows one
    only for an identity the signature proved."""

    orgs: dict[str, str]
    devices: dict[str, ClaimedPerson]


class Opened(Reply):
    envelope: Envelope
    state: SignalState
    names: ClaimedNames
    delete_at: float | None = None  # a teacher's copy: when it self-destructs


class TeacherDevices(Reply):
    person_id: str
    name: str
    class_label: str
    devices: list[RecipientDevice]


class StateReply(Reply):
    state: SignalState


class Created(Reply):
    id: str


class Imported(Reply):
    imported: int
    # DUO's register (server/register.py): what changed, and that in Dutch for the admin
    new: int | None = None
    renamed: int | None = None
    closed: int | None = None
    summary: str | None = None
    outside: int | None = None  # a region admin's import: rows outside the region, left alone


class Added(Reply):
    added: int


class EnrolLink(Reply):
    link: str
    qr: str
    name: str
    role: str
    org: str


class ApiKey(Reply):
    api_key: str
