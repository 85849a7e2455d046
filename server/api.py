"""The JSON API under /api: thin routes over the lifecycle and directory functions."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import (
    access,
    adminlog,
    approvals,
    auth,
    directory,
    logapi,
    machineapi,
    ops,
    orglog,
    parties,
    push,
    regions,
    register,
    scope,
    signals,
)
from server.access import requires
from server.auth import Actor
from server.calendar import holiday_warning_text
from server.envelope import b64u_encode
from server.errors import DomainError, Invalid, NotFound, Refused
from server.models import (
    Approval,
    Close,
    DeviceEnvelope,
    EnrolRequest,
    Forward,
    FreeDays,
    FreeDaysCsv,
    KeyRotation,
    MachineKey,
    NewApiKey,
    NewOrg,
    NewPerson,
    NewRegion,
    NewSignal,
    OrgPhone,
    OrgRegion,
    PushSubscription,
    PushUpdate,
    QuietUpdate,
    RegionMunicipalities,
    Relay,
    SchoolCsv,
    SecurityEvent,
)
from server.policy import (
    CSV_MAX_BYTES,
    ENVELOPES_BODY_MAX,
    ROLE_LABELS,
    VIEW_EXTEND_MINUTES,
    VIEW_MAX_EXTENSIONS,
    app_policy,
)
from server.presentation import qr_svg
from server.push import EndpointPolicy, check_endpoint
from server.settings import Settings
from server.web import ApiError, json_response, read_json

readiness_log = logging.getLogger("hwc.ready")


_state, _now, _client_ip = access.state_of, access.now_of, access.client_host


# --- health, keys, enrolment ---------------------------------------------------------------


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    state = _state(request)
    report = await ops.readiness(state)
    if report["causes"] != getattr(state, "unready_causes", {}):  # a change, not each probe
        state.unready_causes = report["causes"]
        if report["causes"]:
            readiness_log.warning(
                "not ready: %s",
                "; ".join(f"{part}: {cause}" for part, cause in report["causes"].items()),
            )
        else:
            readiness_log.info("ready again")
    return json_response(report, 200 if report["status"] == "ready" else 503)


async def push_key(request: Request) -> Response:
    return json_response({"public_key": _state(request).vapid_public_key})


async def accessibility(request: Request) -> Response:
    """What the accessibility statement takes from the settings and the policy: who answers
    for it, and the teacher's time limit it explains."""
    settings = _state(request).settings
    return json_response(
        {
            "organisation": settings.operator_name,
            "email": settings.operator_email,
            "phone": settings.operator_phone,
            "configured": settings.operator_configured,
            "view_grace_minutes": settings.view_grace_minutes,
            "view_extend_minutes": VIEW_EXTEND_MINUTES,
            "view_max_extensions": VIEW_MAX_EXTENSIONS,
        }
    )


async def enrol(request: Request) -> Response:
    """Junk (no token this server signed) is limited per client address, and a real link per
    its own id: junk from a shared address (a platform router) never holds a real link back."""
    state = _state(request)
    try:
        body = await read_json(request, EnrolRequest)
        token_id = auth.token_id(state.secret_key, body.token, state.settings.enrol_token_days)
        if token_id is None:
            raise auth.TOKEN_REFUSED
    except (ApiError, DomainError):
        state.limits["enrol_ip"].hit(auth.address_key(_client_ip(request)))
        raise
    state.limits["enrol_token"].hit(token_id)
    device = auth.NewDevice(
        public_key=auth.public_key_from_b64u(body.public_key),
        sig_key=auth.public_key_from_b64u(body.sig_key),
        label=body.label.strip(),
        push=_subscription(state, body.push),
    )
    enrolled = auth.enrol_device(state.db, token_id, device, _now(request))
    response = json_response(me_body(state, enrolled.device_id), 201)
    access.set_device_cookie(response, enrolled.credential)
    return response


def _subscription(state: Any, subscription: PushSubscription | None) -> str | None:
    """The subscription as stored, after checking the endpoint is a push service we may call."""
    if subscription is None:
        return None
    check_endpoint(subscription.endpoint, EndpointPolicy.of(state.settings))
    return msgspec.json.encode(subscription).decode()


def me_body(state: Any, device_id: str) -> dict[str, Any]:
    row = directory.device_profile(state.db, device_id)
    code = approvals.code_of(row["public_key"], row["sig_key"])
    if row["pending"]:  # no rights yet: nothing but the code to compare
        return {"pending": True, "code": code, "device": {"id": row["id"], "label": row["label"]}}
    return {
        "person": {
            "id": row["person_id"],
            "name": row["name"],
            "role": row["role"],
            "role_label": ROLE_LABELS[row["role"]],
            "class_label": row["class_label"],
        },
        "org": None
        if row["org_id"] is None
        else {
            "id": row["org_id"],
            "name": row["org_name"],
            "kind": row["org_kind"],
            "route": row["org_route"],
        },
        "device": {
            "id": row["id"],
            "label": row["label"],
            "public_key": b64u_encode(row["public_key"]),
            "sig_key": b64u_encode(row["sig_key"] or b""),
            "push": row["push_state"],
            "quiet_hours": row["quiet_hours"],
        },
        # what the app states as times and durations comes from the settings
        "view_grace_minutes": state.settings.view_grace_minutes,
        "max_days": state.settings.max_days,
        "enrol_token_days": state.settings.enrol_token_days,
        "enrol_retry_minutes": auth.ENROL_RETRY_SECONDS // 60,
        "default_quiet_hours": state.settings.quiet_hours,
        "policy": app_policy(),
        # the cut-over: an unsigned signal sent from then on is unverifiable in the app
        "signed_from": state.settings.signed_from_at,
        "pending": False,
        "code": code,
        # the person's other active devices: the app names them in its warnings
        "devices": directory.sibling_devices(state.db, row["person_id"], device_id),
    }


def _own_device(actor: Actor) -> str:
    """The caller's device; an organisation API key has none, so /api/me... is not for it."""
    if actor.device_id is None:
        raise Refused()
    return actor.device_id


async def me(request: Request) -> Response:
    """This device; a pending one (waiting for approval) may ask this and nothing else."""
    state = _state(request)
    waiting = auth.pending_device(state.db, request.cookies.get(auth.COOKIE, ""))
    if waiting is not None:
        return json_response(me_body(state, waiting))
    return await _me(request)


@requires(*auth.ROLES)
async def _me(request: Request, actor: Actor) -> Response:
    response = json_response(me_body(_state(request), _own_device(actor)))
    # Browsers keep a cookie at most 400 days from when it was set: each start of the app
    # renews it, so a device in use is never logged out by its age.
    if auth.COOKIE in request.cookies:
        access.set_device_cookie(response, request.cookies[auth.COOKIE])
    return response


me.roles = _me.roles  # type: ignore[attr-defined]


@requires(*auth.ROLES)
async def me_enrol_link(request: Request, actor: Actor) -> Response:
    """ "Apparaat toevoegen": a link for another device of my own; my device approves it."""
    _own_device(actor)
    person = directory.person(_state(request).db, str(actor.person_id))
    return _enrol_link_response(request, actor, person)


@requires(*auth.ROLES)
async def me_key_lost(request: Request, actor: Actor) -> Response:
    """The app found its key store wiped: this device can never open an envelope again."""
    device_id = _own_device(actor)
    directory.revoke_device(
        _state(request).db, device_id, _now(request), key_lost=True, by=orglog.by_device(device_id)
    )
    return json_response({"revoked": True})


@requires(*auth.ROLES)
async def me_push(request: Request, actor: Actor) -> Response:
    device_id = _own_device(actor)
    body = await read_json(request, PushUpdate)
    push = _subscription(_state(request), body.push)
    directory.set_push(_state(request).db, device_id, push)
    return json_response(me_body(_state(request), device_id))


@requires(*auth.ROLES)
async def me_quiet(request: Request, actor: Actor) -> Response:
    """This device's own quiet hours: null (the default), "off", or "HH:MM-HH:MM"."""
    device_id = _own_device(actor)
    body = await read_json(request, QuietUpdate)
    directory.set_quiet_hours(_state(request).db, device_id, body.quiet_hours)
    return json_response(me_body(_state(request), device_id))


# --- sending -------------------------------------------------------------------------------


@requires("sender", "officer")
async def find_schools(request: Request, actor: Actor) -> Response:
    query = request.query_params.get("q", "")[:60]
    kinds = ("leerplicht",) if request.query_params.get("kind") == "leerplicht" else ("school",)
    return json_response(directory.find_schools(_state(request).db, query, kinds))


@requires("sender", "officer")
async def school_recipients(request: Request, actor: Actor) -> Response:
    org_id = request.path_params["id"]
    devices = signals.receiving_devices(_state(request).db, org_id)
    state = _state(request)
    times = signals.signal_times(state.db, org_id, _now(request), state.timing)
    notify = push.first_send_at(
        state.db,
        [d["device_id"] for d in devices],
        _now(request),
        state.timing.quiet,
        times.deadline.timestamp(),
    )
    return json_response(
        {
            "org": org_id,
            "devices": devices,
            "deadline": times.deadline.isoformat(),
            "expires_at": times.expires_at.isoformat(),
            "holiday_warning": holiday_warning_text(times),
            "notify_at": datetime.fromtimestamp(notify, UTC).isoformat(),
        }
    )


@requires("sender", "officer")
async def send_signal(request: Request, actor: Actor) -> Response:
    state = _state(request)
    state.limits["send"].hit(actor.device_id or actor.org_id or "-")
    body = await read_json(request, NewSignal)
    _require_signed(state.settings, body.envelopes, _now(request))
    result = signals.send_signal(
        state.db, actor, body.id, body.recipient_id, body.envelopes, _now(request), state.timing
    )
    return json_response(result, 201)


def _require_signed(settings: Settings, envelopes: list[DeviceEnvelope], now: float) -> None:
    """From the cut-over (HWC_SIGNED_FROM) on, only signed envelopes (version 3)."""
    cut = settings.signed_from_at
    if cut is not None and now >= cut and any(e.envelope.v != 3 for e in envelopes):
        raise Invalid("unsigned_envelope")


@requires(*auth.ROLES)
async def list_signals(request: Request, actor: Actor) -> Response:
    state = _state(request)
    return json_response(signals.list_signals(state.db, actor, _now(request), state.timing))


@requires("sender", "contact", "teacher", "officer")
async def read_signal(request: Request, actor: Actor) -> Response:
    """One signal as the list shows it, for the app's single-signal screens."""
    state = _state(request)
    return json_response(
        signals.get_signal(state.db, actor, request.path_params["id"], _now(request), state.timing)
    )


# --- receiving -----------------------------------------------------------------------------


@requires("contact", "teacher", "officer")
async def open_signal(request: Request, actor: Actor) -> Response:
    state = _state(request)
    state.limits["open"].hit(actor.device_id or "-")
    result = signals.open_envelope(
        state.db, actor, request.path_params["id"], _now(request), state.timing
    )
    # Names for the ids a signed envelope claims; the app shows one only when the signature
    # proved that id (docs/envelope.md, "Verdicts").
    return json_response(result | {"names": parties.claimed_names(state.db, result["envelope"])})


@requires("contact")
async def school_teachers(request: Request, actor: Actor) -> Response:
    if actor.org_id is None or request.path_params["id"] != actor.org_id:
        raise Refused()
    return json_response(signals.teacher_devices(_state(request).db, actor.org_id))


@requires("contact")
async def forward_signal(request: Request, actor: Actor) -> Response:
    body = await read_json(request, Forward)
    _require_signed(_state(request).settings, body.envelopes, _now(request))
    result = signals.forward_signal(
        _state(request).db,
        actor,
        request.path_params["id"],
        body.teachers,
        body.envelopes,
        _now(request),
        _state(request).timing,
    )
    return json_response(result)


@requires("officer")
async def relay_signal(request: Request, actor: Actor) -> Response:
    body = await read_json(request, Relay)
    _require_signed(_state(request).settings, body.envelopes, _now(request))
    result = signals.relay_signal(
        _state(request).db,
        actor,
        request.path_params["id"],
        body.school_id,
        body.envelopes,
        _now(request),
        _state(request).timing,
    )
    return json_response(result)


@requires("contact", "officer")
async def close_signal(request: Request, actor: Actor) -> Response:
    body = await read_json(request, Close)
    return json_response(
        signals.close_signal(
            _state(request).db, actor, request.path_params["id"], body.reason, _now(request)
        )
    )


@requires("teacher")
async def teacher_done(request: Request, actor: Actor) -> Response:
    return json_response(
        signals.teacher_done(_state(request).db, actor, request.path_params["id"], _now(request))
    )


# --- administration ------------------------------------------------------------------------


@requires("admin")
async def admin_create_region(request: Request, actor: Actor) -> Response:
    """A region and (next, as people with its region_id) its admins: the instance admin's."""
    scope.require_instance(actor)
    body = await read_json(request, NewRegion)
    return json_response(
        {"id": regions.create_region(_state(request).db, body, _now(request))}, 201
    )


@requires("admin")
async def admin_region_municipalities(request: Request, actor: Actor) -> Response:
    """The instance admin's change to a region's municipalities (its imports follow them)."""
    scope.require_instance(actor)
    db = _state(request).db
    region_id = str(scope.managed_region(db, actor, request.path_params["id"])["id"])
    body = await read_json(request, RegionMunicipalities)
    regions.set_municipalities(db, region_id, body.municipalities)
    return json_response({"id": region_id})


@requires("admin")
async def admin_create_org(request: Request, actor: Actor) -> Response:
    """An organisation: a region admin's is always in their region."""
    db = _state(request).db
    if scope.require_admin(actor, "instance", "region") == "region":
        body = msgspec.structs.replace(await read_json(request, NewOrg), region_id=actor.region_id)
    else:
        body = await read_json(request, NewOrg)
        if body.region_id is not None:
            scope.managed_region(db, actor, body.region_id)
    return json_response({"id": directory.create_org(db, body, _now(request))}, 201)


def _managed_org_id(request: Request, actor: Actor) -> str:
    """The path's organisation, if the caller administers it (else 404, as if absent)."""
    return str(scope.managed_org(_state(request).db, actor, request.path_params["id"])["id"])


@requires("admin")
async def admin_org_phone(request: Request, actor: Actor) -> Response:
    org_id = _managed_org_id(request, actor)
    body = await read_json(request, OrgPhone)
    directory.set_phone(_state(request).db, org_id, body.phone)
    return json_response({"id": org_id})


@requires("admin")
async def admin_import_schools(request: Request, actor: Actor) -> Response:
    """The instance admin's import is national; a region admin's, their municipalities'."""
    db = _state(request).db
    region = _import_region(db, actor)
    body = await read_json(request, SchoolCsv)
    if register.is_register(body.csv):
        limit = register.import_scope(region)
        changes = register.import_register(db, body.csv, _now(request), limit)
        return json_response({"imported": changes.total, **changes.counts()}, 201)
    region_id = None if region is None else region["id"]
    count = directory.import_schools_csv(db, body.csv, _now(request), region_id)
    return json_response({"imported": count}, 201)


def _import_region(db: Any, actor: Actor) -> Any:
    """The region whose schools the caller imports; None for the instance admin."""
    if scope.require_admin(actor, "instance", "region") == "instance":
        return None
    return scope.managed_region(db, actor, str(actor.region_id))


@requires("admin")
async def admin_org_region(request: Request, actor: Actor) -> Response:
    org_id = _managed_org_id(request, actor)
    body = await read_json(request, OrgRegion)
    register.set_region_override(_state(request).db, org_id, body.region)
    return json_response({"id": org_id})


@requires("admin")
async def admin_free_days(request: Request, actor: Actor) -> Response:
    org_id = _managed_org_id(request, actor)
    body = await read_json(request, FreeDays)
    count = directory.add_free_days(_state(request).db, org_id, body.start, body.end)
    return json_response({"added": count}, 201)


@requires("admin")
async def admin_org_audit(request: Request, actor: Actor) -> Response:
    """The organisation's audit trail: 404 alike for no such organisation and not yours."""
    db = _state(request).db
    org = scope.managed_org(db, actor, request.path_params["id"])
    return json_response(adminlog.of_org(db, org["id"]))


@requires("admin")
async def admin_import_free_days(request: Request, actor: Actor) -> Response:
    """Free days of the schools the caller administers; any other code is unknown."""
    db = _state(request).db
    body = await read_json(request, FreeDaysCsv)
    managed = scope.managed_org_ids(db, actor)
    return json_response({"added": directory.import_free_days_csv(db, body.csv, managed)}, 201)


@requires("admin", "contact")
async def admin_create_person(request: Request, actor: Actor) -> Response:
    body = await read_json(request, NewPerson)
    directory.may_register(_state(request).db, actor, body)
    person_id = directory.create_person(_state(request).db, body, _now(request), _by(actor))
    return json_response({"id": person_id}, 201)


def _by(actor: Actor) -> str:
    """`by` of a key log entry for an admin's or a contact's act in the web app."""
    return orglog.by_staff(actor.role, actor.person_id)


@requires("admin", "contact")
async def admin_enrol_link(request: Request, actor: Actor) -> Response:
    person = directory.manageable_person(_state(request).db, actor, request.path_params["id"])
    return _enrol_link_response(request, actor, person)


@requires("admin", "contact")
async def admin_reset_person(request: Request, actor: Actor) -> Response:
    """A lost or wiped phone: every device of the person ends (one log entry), and a fresh
    link lets them enrol a new first device."""
    state = _state(request)
    person = directory.manageable_person(state.db, actor, request.path_params["id"])
    approvals.reset_person(state.db, person, _by(actor), _now(request))
    return _enrol_link_response(request, actor, person)


def _enrol_link_response(request: Request, actor: Actor, person: Any) -> Response:
    state = _state(request)
    token = auth.make_enrol_token(
        state.db,
        state.secret_key,
        person["id"],
        actor.person_id,
        _now(request),
        state.settings.enrol_token_days,
    )
    link = auth.enrol_link(state.settings.base_url, token)
    org = person["org_name"] or "beheer"
    return json_response(
        {
            "link": link,
            "qr": qr_svg(link),
            "name": person["name"],
            "role": ROLE_LABELS[person["role"]],
            "org": org,
        },
        201,
    )


@requires("admin", "contact")
async def admin_revoke_person(request: Request, actor: Actor) -> Response:
    person = directory.manageable_person(_state(request).db, actor, request.path_params["id"])
    directory.revoke_person(_state(request).db, person["id"], _now(request), _by(actor))
    return json_response({"revoked": True})


@requires("admin")
async def admin_erase_person(request: Request, actor: Actor) -> Response:
    """Someone who leaves: everything held about them goes at once (docs/gegevens.md)."""
    directory.erase_leaver(_state(request).db, actor, request.path_params["id"], _now(request))
    return json_response({"erased": True})


@requires("admin", "contact")
async def admin_revoke_device(request: Request, actor: Actor) -> Response:
    db = _state(request).db
    directory.manageable_person(db, actor, directory.device_owner(db, request.path_params["id"]))
    directory.revoke_device(db, request.path_params["id"], _now(request), by=_by(actor))
    return json_response({"revoked": True})


@requires("admin")
async def admin_create_api_key(request: Request, actor: Actor) -> Response:
    db = _state(request).db
    body = await read_json(request, NewApiKey)
    scope.managed_org(db, actor, body.org_id)
    key = auth.make_api_key(db, body.org_id, body.label, _now(request), _by(actor))
    return json_response({"api_key": key}, 201)


@requires("admin")
async def admin_revoke_api_key(request: Request, actor: Actor) -> Response:
    db = _state(request).db
    key_id = request.path_params["id"]
    if not scope.manages_org(db, actor, auth.api_key_org(db, key_id)):
        raise NotFound()
    auth.revoke_api_key(db, key_id, _now(request), _by(actor))
    return json_response({"revoked": True})


# --- the route table (also the source of the OpenAPI document) -----------------------------


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    summary: str
    body: type | None = None
    statuses: tuple[int, ...] = (200,)
    public: bool = False
    query: tuple[str, ...] = field(default=())
    max_body: int | None = None  # a body limit above HWC_MAX_BODY_BYTES: bulk and envelopes

    def route(self) -> Route:
        return Route(self.path, self.endpoint, methods=[self.method])


API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "POST",
        "/api/enrol",
        enrol,
        "Enrol this device with a one-time token",
        EnrolRequest,
        (201, 400, 409, 422, 429),
        public=True,
    ),
    ApiRoute(
        "GET",
        "/api/me",
        me,
        "This device, its person and organisation (a pending device: only its code)",
    ),
    ApiRoute("GET", "/api/me/pending", logapi.my_pending, "My new devices waiting for my approval"),
    ApiRoute(
        "POST",
        "/api/me/devices/{id}/approve",
        logapi.approve_device,
        "Approve my new device: my signature over its keys",
        Approval,
        (200, 404, 409, 422),
    ),
    ApiRoute(
        "POST",
        "/api/me/devices/{id}/key",
        logapi.rotate_key,
        "My device's new key, signed with its own signing key",
        KeyRotation,
        (200, 403, 409, 422, 429),
    ),
    ApiRoute(
        "GET",
        "/api/me/old-keys",
        logapi.my_old_keys,
        "My device's earlier keys and until when a live envelope needs each",
    ),
    ApiRoute(
        "POST",
        "/api/me/devices/{id}/decline",
        logapi.decline_device,
        "Decline a device waiting for my approval",
        statuses=(200, 404),
    ),
    ApiRoute(
        "POST",
        "/api/me/devices/{id}/revoke",
        logapi.revoke_sibling,
        "Block another device of my own",
        statuses=(200, 404),
    ),
    ApiRoute(
        "POST",
        "/api/me/enrol-link",
        me_enrol_link,
        "Apparaat toevoegen: a link for another device of my own",
        statuses=(201,),
    ),
    ApiRoute(
        "POST",
        "/api/machine-keys",
        machineapi.register_key,
        "hwc register-key: a sending system's signing key, pending (API key only)",
        MachineKey,
        (200, 201, 409, 422),
    ),
    ApiRoute(
        "GET",
        "/api/org/machine-keys",
        machineapi.list_keys,
        "My organisation's sending systems, waiting or approved (sender, admin)",
        statuses=(200, 409),
    ),
    ApiRoute(
        "POST",
        "/api/org/machine-keys/{id}/approve",
        machineapi.approve_key,
        "Approve a sending system's key: my device's signature over it",
        Approval,
        (200, 404, 409, 422),
    ),
    ApiRoute(
        "POST",
        "/api/org/machine-keys/{id}/decline",
        machineapi.decline_key,
        "Decline a sending system's key waiting for approval",
        statuses=(200, 404, 409),
    ),
    ApiRoute(
        "POST",
        "/api/org/machine-keys/{id}/revoke",
        machineapi.revoke_key,
        "Revoke a sending system's key (machine_revoked)",
        statuses=(200, 404, 409),
    ),
    ApiRoute("GET", "/api/log/key", logapi.log_key, "The key log's signing key", public=True),
    ApiRoute(
        "GET",
        "/api/log/heads",
        logapi.log_heads,
        "Every organisation's signed key log head",
        public=True,
    ),
    ApiRoute(
        "GET",
        "/api/orgs/{id}/log",
        logapi.org_log,
        "An organisation's key log with its signed head",
        statuses=(200, 404, 429),
        public=True,
    ),
    ApiRoute(
        "POST",
        "/api/security-events",
        logapi.report_security_event,
        "Report a key log problem the app detected (no personal data)",
        SecurityEvent,
        (201, 404, 422, 429),
    ),
    ApiRoute(
        "GET",
        "/api/me/security-events",
        logapi.own_security_events,
        "Signals in my organisation's name that a recipient could not verify",
    ),
    ApiRoute(
        "GET",
        "/api/admin/security-events",
        logapi.list_security_events,
        "Key log problems reported by apps",
    ),
    ApiRoute(
        "POST",
        "/api/me/key-lost",
        me_key_lost,
        "The app lost its key: revoke this device",
        statuses=(200,),
    ),
    ApiRoute("PUT", "/api/me/push", me_push, "Replace this device's push subscription", PushUpdate),
    ApiRoute(
        "PUT", "/api/me/quiet", me_quiet, "This device's own quiet hours", QuietUpdate, (200, 422)
    ),
    ApiRoute("GET", "/api/push/key", push_key, "The VAPID applicationServerKey", public=True),
    ApiRoute(
        "GET",
        "/api/accessibility",
        accessibility,
        "The deploying organisation named in the accessibility statement",
        public=True,
    ),
    ApiRoute(
        "GET",
        "/api/schools",
        find_schools,
        "Find schools or leerplicht offices",
        query=("q", "kind"),
    ),
    ApiRoute(
        "GET",
        "/api/schools/{id}/recipients",
        school_recipients,
        "Receiving devices of a school or office, with deadline",
        statuses=(200, 409),
    ),
    ApiRoute(
        "POST",
        "/api/signals",
        send_signal,
        "Send a signal (envelopes per device)",
        NewSignal,
        (201, 404, 409, 422, 429),
        max_body=ENVELOPES_BODY_MAX,
    ),
    ApiRoute("GET", "/api/signals", list_signals, "Signals this device may see, no content"),
    ApiRoute(
        "GET",
        "/api/signals/{id}",
        read_signal,
        "One signal this device may see, no content",
        statuses=(200, 404),
    ),
    ApiRoute(
        "POST",
        "/api/signals/{id}/open",
        open_signal,
        "This device's envelope",
        statuses=(200, 404, 429),
    ),
    ApiRoute(
        "GET",
        "/api/schools/{id}/teachers",
        school_teachers,
        "Teachers of the own school with their devices (none: not enrolled yet)",
    ),
    ApiRoute(
        "POST",
        "/api/signals/{id}/forward",
        forward_signal,
        "Forward to teacher(s)",
        Forward,
        (200, 404, 409, 422),
        max_body=ENVELOPES_BODY_MAX,
    ),
    ApiRoute(
        "POST",
        "/api/signals/{id}/relay",
        relay_signal,
        "Leerplicht: relay to the child's school",
        Relay,
        (200, 404, 409, 422),
        max_body=ENVELOPES_BODY_MAX,
    ),
    ApiRoute(
        "POST",
        "/api/signals/{id}/close",
        close_signal,
        "Close with a reason, or finish",
        Close,
        (200, 404, 409, 422),
    ),
    ApiRoute(
        "POST",
        "/api/signals/{id}/done",
        teacher_done,
        "Teacher: read, delete now",
        statuses=(200, 404),
    ),
    ApiRoute(
        "POST",
        "/api/admin/regions",
        admin_create_region,
        "Create a region (instance admin); its admins are people with its region_id",
        NewRegion,
        (201, 409, 422),
    ),
    ApiRoute(
        "POST",
        "/api/admin/regions/{id}/municipalities",
        admin_region_municipalities,
        "Change a region's municipalities (instance admin)",
        RegionMunicipalities,
        (200, 404, 422),
    ),
    ApiRoute(
        "POST",
        "/api/admin/orgs",
        admin_create_org,
        "Create a school or organisation (a region admin's: in their region)",
        NewOrg,
        (201, 404, 409, 422),
    ),
    ApiRoute(
        "POST",
        "/api/admin/orgs/{id}/phone",
        admin_org_phone,
        "Set an organisation's phone number",
        OrgPhone,
        (200, 404, 422),
    ),
    ApiRoute(
        "POST",
        "/api/admin/orgs/{id}/region",
        admin_org_region,
        "Set a school's holiday region where it follows another region's dates",
        OrgRegion,
        (200, 404, 422),
    ),
    ApiRoute(
        "GET",
        "/api/admin/orgs/{id}/audit",
        admin_org_audit,
        "Beheerlog: who made links, enrolled, approved, revoked or reset whom (no child data)",
        statuses=(200, 404),
    ),
    ApiRoute(
        "POST",
        "/api/admin/schools/import",
        admin_import_schools,
        "Import schools (this project's CSV, or DUO's register of school locations; a region "
        "admin's: the rows of their municipalities)",
        SchoolCsv,
        (201, 409, 422),
        max_body=CSV_MAX_BYTES + 1024,
    ),
    ApiRoute(
        "POST",
        "/api/admin/orgs/{id}/free-days",
        admin_free_days,
        "Add a school's own free day(s)",
        FreeDays,
        (201, 404, 422),
    ),
    ApiRoute(
        "POST",
        "/api/admin/free-days/import",
        admin_import_free_days,
        "Import free days for many schools (CSV code,from,to)",
        FreeDaysCsv,
        (201, 422),
        max_body=CSV_MAX_BYTES + 1024,
    ),
    ApiRoute(
        "POST",
        "/api/admin/people",
        admin_create_person,
        "Register a person (an admin: of an organisation, a region, or the instance)",
        NewPerson,
        (201, 404, 422),
    ),
    ApiRoute(
        "POST",
        "/api/admin/people/{id}/enrol-link",
        admin_enrol_link,
        "Make a one-time enrolment link",
        statuses=(201, 404),
    ),
    ApiRoute(
        "POST",
        "/api/admin/people/{id}/reset",
        admin_reset_person,
        "Reset a person: all their devices end, a fresh link for a new first device",
        statuses=(201, 404, 409),
    ),
    ApiRoute(
        "POST",
        "/api/admin/people/{id}/revoke",
        admin_revoke_person,
        "Revoke a person and all their devices",
        statuses=(200, 404),
    ),
    ApiRoute(
        "POST",
        "/api/admin/people/{id}/erase",
        admin_erase_person,
        "Erase a person who leaves: devices, links and the person",
        statuses=(200, 404, 409),
    ),
    ApiRoute(
        "POST",
        "/api/admin/devices/{id}/revoke",
        admin_revoke_device,
        "Revoke a device",
        statuses=(200, 404),
    ),
    ApiRoute(
        "POST",
        "/api/admin/api-keys",
        admin_create_api_key,
        "Make an organisation API key for `hwc send`",
        NewApiKey,
        (201, 404, 422),
    ),
    ApiRoute(
        "POST",
        "/api/admin/api-keys/{id}/revoke",
        admin_revoke_api_key,
        "Revoke an organisation API key",
        statuses=(200, 404),
    ),
)


def large_bodies() -> dict[str, int]:
    """Path template -> body limit, for the routes whose bodies may exceed the default."""
    return {r.path: r.max_body for r in API_ROUTES if r.max_body is not None}
