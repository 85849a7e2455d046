"""The lifecycle's vocabulary, in one place: signal states, timeline events, close reasons and
push kinds, with the rules that are plain data (which close reason leaves which states).

Dependency-free on purpose: the domain, the timers, the models and the admin pages import the
names from here instead of repeating string literals. The values are what the database, the
API and the app store and send; never rename one without a migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class State:
    """A signal's state (the `signals.state` column, and "state" in every answer)."""

    SENT: Final = "sent"
    OPENED: Final = "opened"
    RELAYED: Final = "relayed"  # leerplicht passed it on to the child's school
    FORWARDED: Final = "forwarded"  # to one or more teachers
    VIEWED: Final = "viewed"  # every chosen teacher opened it
    DONE: Final = "done"
    CLOSED: Final = "closed"
    EXPIRED: Final = "expired"


OPEN_STATES: Final = (State.SENT, State.OPENED, State.RELAYED, State.FORWARDED, State.VIEWED)
UNHANDLED_STATES: Final = (State.SENT, State.OPENED, State.RELAYED)  # nobody at school acted yet
WITH_TEACHERS: Final = (State.FORWARDED, State.VIEWED)


class Event:
    """A timeline entry's kind (`signal_events.kind`): a state entered, or what a timer did."""

    SENT: Final = State.SENT
    OPENED: Final = State.OPENED
    RELAYED: Final = State.RELAYED
    FORWARDED: Final = State.FORWARDED
    VIEWED: Final = State.VIEWED
    DONE: Final = State.DONE
    CLOSED: Final = State.CLOSED
    EXPIRED: Final = State.EXPIRED
    TEACHER_VIEWED: Final = "teacher_viewed"  # one of the chosen teachers opened it
    REMINDED: Final = "reminded"
    RELAY_LATE: Final = "relay_late"  # leerplicht did not relay in time: the sender is told
    ESCALATED: Final = "escalated"
    TEACHER_LATE: Final = "teacher_late"


class CloseReason(StrEnum):
    """Why a holder closes a signal (`signals.close_reason`, the event's detail)."""

    TOLD_IN_PERSON = "told_in_person"
    NOT_OUR_PUPIL = "not_our_pupil"
    DONE = "done"  # finished ('Afronden') after the teachers had it
    NOT_IN_MUNICIPALITY = "not_in_municipality"
    UNVERIFIABLE = "unverifiable"  # its signature did not verify (issue 20): never shown


@dataclass(frozen=True)
class CloseRule:
    roles: tuple[str, ...]  # who may close with this reason
    from_states: tuple[str, ...]
    to_state: str


CLOSE_RULES: Final[dict[CloseReason, CloseRule]] = {
    CloseReason.TOLD_IN_PERSON: CloseRule(("contact",), UNHANDLED_STATES, State.CLOSED),
    CloseReason.NOT_OUR_PUPIL: CloseRule(("contact",), UNHANDLED_STATES, State.CLOSED),
    CloseReason.DONE: CloseRule(("contact",), WITH_TEACHERS, State.DONE),
    CloseReason.NOT_IN_MUNICIPALITY: CloseRule(
        ("officer",), (State.SENT, State.OPENED), State.CLOSED
    ),
    # An office holds a signal only while it is sent or opened, so both share the states.
    CloseReason.UNVERIFIABLE: CloseRule(("contact", "officer"), UNHANDLED_STATES, State.CLOSED),
}


@dataclass(frozen=True)
class PushKind:
    """A push: its neutral lock-screen text (never a name, never a school: DESIGN.md section 2),
    its label on the admin pages, and whether quiet hours may hold it."""

    title: str
    body: str
    label: str
    held_in_quiet_hours: bool = True


class Push:
    """The kinds of push (`outbox.kind`, "kind" in the payload)."""

    NEW_SIGNAL: Final = "new_signal"
    TEACHER_SIGNAL: Final = "teacher_signal"
    REMINDER: Final = "reminder"
    ESCALATION: Final = "escalation"
    TEACHER_LATE: Final = "teacher_late"
    DEVICE_PENDING: Final = "device_pending"  # a new device waits for this person's approval


PUSH_KINDS: Final[dict[str, PushKind]] = {
    Push.NEW_SIGNAL: PushKind(
        "Nieuw signaal",
        "Er is een nieuw Handle with Care-signaal. Open de app.",
        "nieuw signaal",
    ),
    Push.TEACHER_SIGNAL: PushKind(
        "Signaal voor u",
        "Uw intern begeleider stuurt u een signaal. Open de app vóór de les.",
        "signaal voor leerkracht",
    ),
    Push.REMINDER: PushKind(
        "Herinnering", "Er wacht nog een signaal op u. Open de app.", "herinnering"
    ),
    # To the sender: Veilig Thuis works around the clock.
    Push.ESCALATION: PushKind(
        "Signaal niet op tijd opgepakt",
        "Een school heeft een signaal niet op tijd opgepakt. Open de app.",
        "niet op tijd opgepakt",
        held_in_quiet_hours=False,
    ),
    Push.TEACHER_LATE: PushKind(
        "Leerkracht heeft nog niet gekeken",
        "Een leerkracht heeft het signaal nog niet geopend. Open de app.",
        "leerkracht heeft nog niet gekeken",
    ),
    # To a person's own devices (docs/keylog.md): neutral, they open the app to see it.
    Push.DEVICE_PENDING: PushKind(
        "Nieuw apparaat",
        "Een nieuw apparaat wil signalen ontvangen. Open de app om het te bekijken.",
        "nieuw apparaat wacht op goedkeuring",
    ),
}
