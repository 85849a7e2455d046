"""Request bodies, decoded strictly by msgspec: unknown fields, wrong types, sizes refused.

These types are also the source of the OpenAPI document's request schemas.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

B64U = "^[A-Za-z0-9_-]*$"
Id = Annotated[str, Meta(min_length=1, max_length=32, pattern=B64U)]
SignalId = Annotated[str, Meta(min_length=22, max_length=22, pattern=B64U)]
PublicKey = Annotated[str, Meta(min_length=87, max_length=87, pattern=B64U)]
Label = Annotated[str, Meta(min_length=1, max_length=60)]
Text = Annotated[str, Meta(min_length=1, max_length=120)]
OptionalText = Annotated[str, Meta(max_length=120)]
Region = Literal["noord", "midden", "zuid"]


class Strict(Struct, forbid_unknown_fields=True):
    pass


class PushKeys(Strict):
    p256dh: Annotated[str, Meta(min_length=87, max_length=87, pattern=B64U)]
    auth: Annotated[str, Meta(min_length=16, max_length=32, pattern=B64U)]


class PushSubscription(Strict):
    endpoint: Annotated[str, Meta(min_length=10, max_length=1000, pattern="^https?://")]
    keys: PushKeys
    expirationTime: int | None = None  # noqa: N815 - the browser's own field name


class EnrolRequest(Strict):
    token: Annotated[str, Meta(min_length=10, max_length=300)]
    public_key: PublicKey
    label: Label
    push: PushSubscription | None = None


class PushUpdate(Strict):
    push: PushSubscription | None


class Envelope(Strict):
    v: int
    epk: PublicKey
    salt: Annotated[str, Meta(min_length=22, max_length=22, pattern=B64U)]
    iv: Annotated[str, Meta(min_length=16, max_length=16, pattern=B64U)]
    ct: Annotated[str, Meta(min_length=23, max_length=1366, pattern=B64U)]


class DeviceEnvelope(Strict):
    device_id: Id
    envelope: Envelope


Envelopes = Annotated[list[DeviceEnvelope], Meta(min_length=1, max_length=50)]


class NewSignal(Strict):
    id: SignalId
    recipient_id: Id
    envelopes: Envelopes


class Forward(Strict):
    teachers: Annotated[list[Id], Meta(min_length=1, max_length=4)]
    envelopes: Envelopes


class Relay(Strict):
    school_id: Id
    envelopes: Envelopes


class Close(Strict):
    reason: Literal["told_in_person", "not_our_pupil", "done", "not_in_municipality"]


# --- admin ---------------------------------------------------------------------------------

class NewOrg(Strict):
    kind: Literal["school", "veilig_thuis", "leerplicht"]
    name: Text
    place: OptionalText = ""
    code: Annotated[str, Meta(max_length=12, pattern="^[0-9A-Z]*$")] = ""
    region: Region | None = None
    municipalities: Annotated[str, Meta(max_length=500)] = ""
    route: Literal["school", "leerplicht"] = "school"


class SchoolCsv(Strict):
    csv: Annotated[str, Meta(min_length=1, max_length=200_000)]


class FreeDays(Strict):
    start: date = field(name="from")
    end: date | None = field(default=None, name="to")


class FreeDaysCsv(Strict):
    csv: Annotated[str, Meta(min_length=1, max_length=200_000)]


class NewPerson(Strict):
    name: Text
    role: Literal["admin", "sender", "contact", "teacher", "officer"]
    org_id: Id | None = None
    class_label: Annotated[str, Meta(max_length=40)] = ""


class NewApiKey(Strict):
    org_id: Id
    label: Label
