"""Routes of the key log (docs/keylog.md): the public log, key and heads; a person's pending
devices, approval, declining, blocking a sibling, "Apparaat toevoegen"; reset; security events.
Thin: the rules are in server/keylog.py, the changes in server/approvals.py and orglog.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server import access, approvals, auth, keylog, orglog, rotation, scope, security_events
from server.access import requires
from server.auth import Actor
from server.errors import DomainError, NotFound
from server.models import Approval, KeyRotation, SecurityEvent
from server.web import json_response, read_json

_state, _now, _client_host = access.state_of, access.now_of, access.client_host


# --- public --------------------------------------------------------------------------------


async def log_key(request: Request) -> Response:
    return json_response({"key": keylog.public_b64u(_state(request).log_key)})


def _count_log_request(request: Request) -> None:
    """An enrolled device or an API key is counted on its own; anyone else by address. A
    school's phones share the school's one address at 07:45, and each checks its own log at
    start and the sender's at every open: counted by address they would hold each other up."""
    try:
        actor = access.authenticate(request)
        caller = f"device:{actor.device_id}" if actor.device_id else f"org:{actor.org_id}"
    except DomainError:
        caller = auth.address_key(_client_host(request))
    _state(request).limits["log"].hit(caller)


async def log_heads(request: Request) -> Response:
    state = _state(request)
    _count_log_request(request)
    return json_response(orglog.all_heads(state.db, state.log_key))


async def org_log(request: Request) -> Response:
    state = _state(request)
    _count_log_request(request)
    org_id = request.path_params["id"]
    if state.db.execute("SELECT 1 FROM orgs WHERE id = ?", [org_id]).fetchone() is None:
        raise NotFound("unknown_org")
    return json_response(orglog.public_log(state.db, state.log_key, org_id))


# --- a person's own devices ----------------------------------------------------------------


@requires(*auth.ROLES)
async def my_pending(request: Request, actor: Actor) -> Response:
    access.person_device(actor)
    return json_response(approvals.pending_devices(_state(request).db, str(actor.person_id)))


@requires(*auth.ROLES)
async def approve_device(request: Request, actor: Actor) -> Response:
    body = await read_json(request, Approval)
    approvals.approve(
        _state(request).db,
        access.person_device(actor),
        str(actor.person_id),
        access.log_org(actor),
        request.path_params["id"],
        body.approval,
        _now(request),
    )
    return json_response({"approved": True})


@requires(*auth.ROLES)
async def decline_device(request: Request, actor: Actor) -> Response:
    approvals.decline(
        _state(request).db,
        access.person_device(actor),
        str(actor.person_id),
        request.path_params["id"],
        _now(request),
    )
    return json_response({"declined": True})


@requires(*auth.ROLES)
async def revoke_sibling(request: Request, actor: Actor) -> Response:
    approvals.revoke_sibling(
        _state(request).db,
        access.person_device(actor),
        str(actor.person_id),
        request.path_params["id"],
        _now(request),
    )
    return json_response({"revoked": True})


@requires(*auth.ROLES)
async def rotate_key(request: Request, actor: Actor) -> Response:
    """This device's new ECDH key (a week old, or a suspected leak)."""
    device_id = access.person_device(actor)
    body = await read_json(request, KeyRotation)
    if request.path_params["id"] != device_id:
        raise rotation.NOT_OWN_DEVICE
    _state(request).limits["rotate"].hit(device_id)
    rotated = rotation.rotate_key(
        _state(request).db,
        device_id,
        str(actor.person_id),
        access.log_org(actor),
        body.enc_key,
        body.signature,
        _now(request),
    )
    return json_response(rotated)


@requires(*auth.ROLES)
async def my_old_keys(request: Request, actor: Actor) -> Response:
    """When this device may destroy each earlier private key (none without an organisation)."""
    state, device_id = _state(request), access.person_device(actor)
    if actor.org_id is None:
        return json_response({"keys": []})
    keys = rotation.old_keys(state.db, device_id, actor.org_id, _now(request), state.timing)
    return json_response({"keys": keys})


# --- security events -----------------------------------------------------------------------


@requires(*auth.ROLES)
async def report_security_event(request: Request, actor: Actor) -> Response:
    state = _state(request)
    state.limits["security"].hit(actor.device_id or actor.org_id or "-")
    body = await read_json(request, SecurityEvent)
    if state.db.execute("SELECT 1 FROM orgs WHERE id = ?", [body.org]).fetchone() is None:
        raise NotFound("unknown_org")
    security_events.record(state.db, body.kind, body.org, actor.org_id, _now(request))
    return json_response({"recorded": True}, 201)


@requires("admin", "sender", "contact", "officer")
async def own_security_events(request: Request, actor: Actor) -> Response:
    """Signals in this organisation's name that a recipient's app could not verify: for its
    people's devices (like every /api/me route, not for an API key)."""
    access.person_device(actor)
    if actor.org_id is None:
        return json_response([])
    return json_response(security_events.about_org(_state(request).db, actor.org_id))


@requires("admin")
async def list_security_events(request: Request, actor: Actor) -> Response:
    """The events of the organisations the caller administers."""
    db = _state(request).db
    return json_response(security_events.recent(db, scope.managed_org_ids(db, actor)))
