"""Every HWC_* setting in one table: name, default and help. The README table comes from here."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from server.calendar import QuietHours


@dataclass(frozen=True)
class Setting:
    env: str
    field: str
    help: str

    @property
    def default(self) -> Any:
        return Settings.__dataclass_fields__[self.field].default


def setting(env: str, default: Any, help: str) -> Any:  # noqa: A002 - the table's column
    """A Settings field with its environment variable and help: one place for all three."""
    return dataclasses.field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    database: str = setting("HWC_DATABASE", "hwc.db", "SQLite database file (WAL mode).")
    base_url: str = setting(
        "HWC_BASE_URL",
        "http://localhost:8000",
        "Public origin of the app; used in links and as the VAPID audience.",
    )
    secret_key: str = setting(
        "HWC_SECRET_KEY",
        "",
        "Signing key for enrolment links; made and kept in the database when empty.",
    )
    vapid_private_key: str = setting(
        "HWC_VAPID_PRIVATE_KEY",
        "",
        "VAPID private key (base64url raw P-256); made and kept in the database when empty.",
    )
    vapid_sub: str = setting(
        "HWC_VAPID_SUB",
        "mailto:beheer@example.org",
        "VAPID contact (mailto: or https:) sent to push services.",
    )
    school_start: str = setting("HWC_SCHOOL_START", "08:15", "When the school day starts (HH:MM).")
    school_end: str = setting("HWC_SCHOOL_END", "17:00", "When the school day ends (HH:MM).")
    min_lead_minutes: int = setting(
        "HWC_MIN_LEAD_MINUTES", 60, "Minimum time between sending and the deadline."
    )
    remind_after_minutes: int = setting(
        "HWC_REMIND_AFTER_MINUTES",
        30,
        "Push a contact again when a signal is unopened this long (school-day time outside quiet "
        "hours: never at night, at the weekend or on a free day).",
    )
    relay_remind_minutes: int = setting(
        "HWC_RELAY_REMIND_MINUTES",
        60,
        "Push a leerplicht officer again when a signal is not relayed this long (counted like "
        "HWC_REMIND_AFTER_MINUTES).",
    )
    max_days: int = setting(
        "HWC_MAX_DAYS", 7, "A signal expires at most this many days after sending."
    )
    quiet_hours: str = setting(
        "HWC_QUIET_HOURS",
        "21:00-06:30",
        "Pushes to schools and leerplicht wait until these hours end (HH:MM-HH:MM, or off); each "
        "person can choose other hours on their device. Escalations to the sender never wait.",
    )
    signed_from: str = setting(
        "HWC_SIGNED_FROM",
        "",
        "Cut-over (YYYY-MM-DD, from 00:00 UTC) after which the server accepts only signed "
        "envelopes (version 3) and the app shows an unsigned signal sent from then on as "
        "unverifiable (docs/envelope.md). Set it once every sender signs; empty: off.",
    )
    view_grace_minutes: int = setting(
        "HWC_VIEW_GRACE_MINUTES",
        10,
        "A teacher's copy survives a reload this long after the first view.",
    )
    status_retention_days: int = setting(
        "HWC_STATUS_RETENTION_DAYS",
        14,
        "Status rows and pushes (no names) are purged this many days after the signal ended.",
    )
    revoked_retention_days: int = setting(
        "HWC_REVOKED_RETENTION_DAYS",
        30,
        "Revoked people, devices and API keys are erased this many days after revocation.",
    )
    token_retention_days: int = setting(
        "HWC_TOKEN_RETENTION_DAYS",
        30,
        "Spent or expired enrolment links are deleted this many days after use or expiry.",
    )
    audit_retention_days: int = setting(
        "HWC_AUDIT_RETENTION_DAYS",
        365,
        "Admin audit trail rows (who enrolled, approved, revoked or reset whom; ids and roles, "
        "no names) are purged this many days after the act: one school year, with room.",
    )
    enrol_token_days: int = setting("HWC_ENROL_TOKEN_DAYS", 7, "Enrolment links expire after this.")
    max_body_bytes: int = setting("HWC_MAX_BODY_BYTES", 64 * 1024, "Largest request body accepted.")
    push_concurrency: int = setting(
        "HWC_PUSH_CONCURRENCY",
        50,
        "Pushes in flight at once to one push service (each has its own slots, so a slow one "
        "never delays another); to all of them together four times this.",
    )
    push_timeout_seconds: int = setting(
        "HWC_PUSH_TIMEOUT_SECONDS", 10, "Timeout of one request to a push service."
    )
    push_hosts: str = setting(
        "HWC_PUSH_HOSTS",
        "fcm.googleapis.com *.push.services.mozilla.com *.push.apple.com *.notify.windows.com",
        "Push service hosts the server may call, space-separated: a name, `*.` and a domain for "
        "its subdomains, or `*` for any public host. Every address a host resolves to must be "
        "public; loopback only when HWC_BASE_URL is on loopback.",
    )
    metrics_token: str = setting(
        "HWC_METRICS_TOKEN", "", "Bearer token for /metrics; /metrics is off when empty."
    )
    trusted_proxy: str = setting(
        "HWC_TRUSTED_PROXY",
        "",
        "Addresses or networks (comma-separated) of the reverse proxy whose X-Forwarded-For and "
        "-Proto headers are trusted; none when empty.",
    )
    header_timeout_seconds: int = setting(
        "HWC_HEADER_TIMEOUT_SECONDS",
        10,
        "A connection's request line and headers must arrive within this many seconds (of "
        "connecting, or of its previous response); else it is closed.",
    )
    body_timeout_seconds: int = setting(
        "HWC_BODY_TIMEOUT_SECONDS",
        30,
        "A request body still arriving at the header timeout must be complete this many seconds "
        "later; else the connection is closed.",
    )
    max_connections: int = setting(
        "HWC_MAX_CONNECTIONS",
        1000,
        "Open connections at most; one more is answered 503 and closed. Keep it below the "
        "process's open-file limit.",
    )
    log_level: str = setting("HWC_LOG_LEVEL", "INFO", "Log level of the hwc loggers.")
    # Shown on the statement as they are until the operator fills them in.
    operator_name: str = setting(
        "HWC_OPERATOR_NAME",
        "[naam van de organisatie: nog in te vullen met HWC_OPERATOR_NAME]",
        "The organisation that deploys the app, named in the accessibility statement "
        "(/toegankelijkheid). Fill in.",
    )
    operator_email: str = setting(
        "HWC_OPERATOR_EMAIL",
        "[e-mailadres: nog in te vullen met HWC_OPERATOR_EMAIL]",
        "E-mail address for accessibility feedback in the statement. Fill in.",
    )
    operator_phone: str = setting(
        "HWC_OPERATOR_PHONE",
        "[telefoonnummer: nog in te vullen met HWC_OPERATOR_PHONE]",
        "Phone number for accessibility feedback in the statement. Fill in.",
    )
    # Not environment settings: injected by tests and `hwc demo`.
    run_workers: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if setting.env in environ:
                values[setting.field] = _parse(setting, environ[setting.env])
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def operator_configured(self) -> bool:
        """Whether the operator filled in every detail the accessibility statement needs."""
        return all(
            getattr(self, field) != Settings.__dataclass_fields__[field].default
            for field in ("operator_name", "operator_email", "operator_phone")
        )

    @property
    def school_start_time(self) -> time:
        return time.fromisoformat(self.school_start)

    @property
    def school_end_time(self) -> time:
        return time.fromisoformat(self.school_end)

    @property
    def signed_from_at(self) -> float | None:
        """HWC_SIGNED_FROM as a Unix time, None when off."""
        if not self.signed_from:
            return None
        return datetime.combine(date.fromisoformat(self.signed_from), time(), UTC).timestamp()

    @property
    def quiet(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours)


# Every environment setting, in the order of the Settings fields (the README table's order).
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.metadata["env"], f.name, f.metadata["help"])
    for f in dataclasses.fields(Settings)
    if "env" in f.metadata
)


def _parse(setting: Setting, raw: str) -> Any:
    if isinstance(setting.default, int):
        try:
            return int(raw)
        except ValueError:
            raise SystemExit(f"{setting.env} must be a whole number, got {raw!r}") from None
    if setting.field == "quiet_hours":
        try:
            QuietHours.parse(raw)
        except ValueError as error:
            raise SystemExit(f"{setting.env}: {error}") from None
    if setting.field == "signed_from" and raw:
        try:
            date.fromisoformat(raw)
        except ValueError:
            raise SystemExit(
                f"{setting.env} must be a date YYYY-MM-DD or empty, got {raw!r}"
            ) from None
    if setting.field == "trusted_proxy" and raw.strip() not in ("", "*"):
        _check_networks(setting.env, raw)
    return raw


def _check_networks(env: str, raw: str) -> None:
    """uvicorn takes what is not an address or network as a name that never matches."""
    try:
        for item in raw.split(","):
            ipaddress.ip_network(item.strip())
    except ValueError:
        raise SystemExit(
            f"{env} must be '*' or addresses or networks separated by commas, got {raw!r}"
        ) from None


def settings_table_markdown() -> str:
    """The configuration table of the README."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.env}` | `{s.default}` | {s.help} |" for s in SETTINGS]
    return "\n".join(rows)
