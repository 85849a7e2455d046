"""Routes of sending systems' keys (docs/keylog.md, "Sending systems"): `hwc register-key` with
an API key; a sender's or an admin's phone lists, approves, declines and revokes. Thin: the
changes are in server/machines.py, the rules in server/keylog.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server import access, auth, machines, orglog
from server.access import requires
from server.auth import Actor
from server.errors import Conflict
from server.models import Approval, MachineKey
from server.web import json_response, read_json

_state, _now = access.state_of, access.now_of


def _api_key(request: Request, actor: Actor) -> tuple[str, str]:
    """(organisation, API key id) of a caller that is an organisation's API key, not a device."""
    if actor.device_id is not None or actor.org_id is None:
        raise Conflict("api_key_only")
    return actor.org_id, auth.api_key_id(request.headers["authorization"].partition(" ")[2])


def _deciding(actor: Actor) -> tuple[str, str]:
    """(device, organisation) of a sender's or an org admin's device: an API key, an instance
    admin (no organisation) or the admin pages without a device never decide."""
    return access.person_device(actor), access.log_org(actor)


@requires("sender")  # an API key is a sender (server/auth.py)
async def register_key(request: Request, actor: Actor) -> Response:
    org_id, key_id = _api_key(request, actor)
    body = await read_json(request, MachineKey)
    answer = machines.register(_state(request).db, org_id, key_id, body.sig_key, _now(request))
    return json_response(answer, 201 if answer["state"] == "pending" else 200)


@requires(*machines.APPROVERS)
async def list_keys(request: Request, actor: Actor) -> Response:
    _, org_id = _deciding(actor)
    return json_response(machines.listed(_state(request).db, org_id))


@requires(*machines.APPROVERS)
async def approve_key(request: Request, actor: Actor) -> Response:
    device, org_id = _deciding(actor)
    body = await read_json(request, Approval)
    machine_id = request.path_params["id"]
    machines.approve(_state(request).db, device, org_id, machine_id, body.approval, _now(request))
    return json_response({"approved": True})


@requires(*machines.APPROVERS)
async def decline_key(request: Request, actor: Actor) -> Response:
    device, org_id = _deciding(actor)
    by = orglog.by_device(device)
    machines.decline(_state(request).db, by, org_id, request.path_params["id"], _now(request))
    return json_response({"declined": True})


@requires(*machines.APPROVERS)
async def revoke_key(request: Request, actor: Actor) -> Response:
    device, org_id = _deciding(actor)
    by = orglog.by_device(device)
    machines.revoke(_state(request).db, by, org_id, request.path_params["id"], _now(request))
    return json_response({"revoked": True})
