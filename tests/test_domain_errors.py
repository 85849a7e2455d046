"""Domain errors: every code a domain module raises has its status and Dutch message in the
one table (web.ERRORS), and the domain modules stay free of HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

from server import errors, web
from server.errors import Conflict, DomainError, Invalid, Limited, NotFound

SERVER = Path(__file__).resolve().parents[1] / "server"
KINDS = {name for name, value in vars(errors).items() if isinstance(value, type)}
DOMAIN = ("signals", "auth", "directory", "push", "privacy", "timers", "states", "errors")


def raised_keys() -> set[str]:
    """Every `Kind("code", variant="...")` written in server/: the table keys they need."""
    keys = set()
    for path in SERVER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in KINDS):
                continue
            if node.args and isinstance(node.args[0], ast.Constant):
                variant = next((k.value for k in node.keywords if k.arg == "variant"), None)
                suffix = f".{variant.value}" if isinstance(variant, ast.Constant) else ""
                keys.add(f"{node.args[0].value}{suffix}")
    return keys


def test_every_raised_code_has_its_message_in_the_table() -> None:
    keys = raised_keys()
    assert len(keys) > 25  # it really found them
    assert keys <= set(web.ERRORS), keys - set(web.ERRORS)
    # the variants built by a helper (signals._conflict) are in the table too
    assert "already_handled.moved_on" in web.ERRORS and "no_recipients.office" in web.ERRORS


def test_the_table_keeps_the_codes_and_bodies_the_app_relies_on() -> None:
    changed = web.api_error(Conflict("devices_changed", devices=[{"device_id": "d"}]))
    assert (changed.status, changed.code, changed.extra) == (
        409,
        "devices_changed",
        {"devices": [{"device_id": "d"}]},
    )
    no_one = web.api_error(Conflict("no_recipients", say={"phone": ": 010 123"}, phone="010 123"))
    assert (
        no_one.message == "Deze school heeft nog geen aangemeld apparaat. Bel de school: 010 123."
    )
    row = Invalid("csv_row", say={"line": 3, "problem": Conflict("code_taken", say={"code": "X"})})
    assert web.message_of(row) == "Regel 3: De code X is al in gebruik."
    generic = web.api_error(NotFound())
    assert (generic.status, generic.code, generic.message) == (404, "not_found", "Niet gevonden.")
    limited = web.api_error(Limited(retry_after=7))
    assert (limited.status, limited.headers["Retry-After"]) == (429, "7")
    assert web.api_error(Invalid("token_invalid")).status == 400


def _imports(name: str) -> set[str]:
    tree = ast.parse((SERVER / f"{name}.py").read_text())
    return {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }


def test_domain_modules_import_nothing_of_http() -> None:
    for name in DOMAIN:
        web_parts = {
            m for m in _imports(name) if m.startswith(("server.web", "server.access", "starlette"))
        } | ({"server.admin"} & _imports(name))
        assert not web_parts, (name, web_parts)
    assert "server.admin" not in _imports("api")  # labels and QR codes: server/presentation.py
    for free in ("errors", "states"):  # dependency-free: only the standard library
        assert {m for m in _imports(free) if m.split(".")[0] in ("server", "starlette")} == set()
    assert issubclass(Limited, DomainError)
