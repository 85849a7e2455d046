"""The lifecycle's vocabulary (server/states.py) is complete wherever it is shown: a new state,
close reason or push kind that lacks its words fails here, not in front of a sender who would
read "zonder reden"."""

from __future__ import annotations

import re
from pathlib import Path

from server import presentation, pushworker
from server.models import Close
from server.states import CLOSE_RULES, PUSH_KINDS, CloseReason, State

TIMELINE_JS = (Path(__file__).resolve().parents[1] / "pwa" / "views" / "timeline.js").read_text()


def js_keys(name: str) -> set[str]:
    """The keys of `export const NAME = { key: "...", ... };` in pwa/views/timeline.js."""
    body = re.search(rf"export const {name} = \{{(.*?)\}};", TIMELINE_JS, re.S)
    assert body is not None, name
    return set(re.findall(r"^\s*(\w+):", body[1], re.M))


def states() -> set[str]:
    return {v for k, v in vars(State).items() if k.isupper()}


def test_every_close_reason_has_a_rule_a_model_value_and_words_in_the_app() -> None:
    assert set(CLOSE_RULES) == set(CloseReason)
    assert Close.__annotations__["reason"] in ("CloseReason", CloseReason)
    assert js_keys("CLOSE_REASONS") == {reason.value for reason in CloseReason}
    for rule in CLOSE_RULES.values():
        assert {rule.to_state, *rule.from_states} <= states()


def test_every_state_has_words_on_the_admin_pages_and_in_the_app() -> None:
    assert set(presentation.SIGNAL_STATE_LABELS) == states()
    assert js_keys("STATE_LABELS") == states()


def test_every_push_kind_has_texts_and_a_label() -> None:
    assert set(pushworker.TEXTS) == set(PUSH_KINDS) == set(presentation.PUSH_KIND_LABELS)
    for kind in PUSH_KINDS.values():
        assert kind.title and kind.body and kind.label
