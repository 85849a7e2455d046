"""Every HWC_* setting in one table: name, default and help. The README table comes from here."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
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


SETTINGS: tuple[Setting, ...] = (
    Setting("HWC_DATABASE", "database", "SQLite database file (WAL mode)."),
    Setting(
        "HWC_BASE_URL",
        "base_url",
        "Public origin of the app; used in links and as the VAPID audience.",
    ),
    Setting(
        "HWC_SECRET_KEY",
        "secret_key",
        "Signing key for enrolment links; made and kept in the database when empty.",
    ),
    Setting(
        "HWC_VAPID_PRIVATE_KEY",
        "vapid_private_key",
        "VAPID private key (base64url raw P-256); made and kept in the database when empty.",
    ),
    Setting(
        "HWC_VAPID_SUB", "vapid_sub", "VAPID contact (mailto: or https:) sent to push services."
    ),
    Setting("HWC_SCHOOL_START", "school_start", "When the school day starts (HH:MM)."),
    Setting("HWC_SCHOOL_END", "school_end", "When the school day ends (HH:MM)."),
    Setting(
        "HWC_MIN_LEAD_MINUTES", "min_lead_minutes", "Minimum time between sending and the deadline."
    ),
    Setting(
        "HWC_REMIND_AFTER_MINUTES",
        "remind_after_minutes",
        "Push a contact again when a signal is unopened this long (school-day time outside "
        "quiet hours: never at night, at the weekend or on a free day).",
    ),
    Setting(
        "HWC_RELAY_REMIND_MINUTES",
        "relay_remind_minutes",
        "Push a leerplicht officer again when a signal is not relayed this long (counted "
        "like HWC_REMIND_AFTER_MINUTES).",
    ),
    Setting("HWC_MAX_DAYS", "max_days", "A signal expires at most this many days after sending."),
    Setting(
        "HWC_QUIET_HOURS",
        "quiet_hours",
        "Pushes to schools and leerplicht wait until these hours end (HH:MM-HH:MM, or off); "
        "each person can choose other hours on their device. Escalations to the sender "
        "never wait.",
    ),
    Setting(
        "HWC_VIEW_GRACE_MINUTES",
        "view_grace_minutes",
        "A teacher's copy survives a reload this long after the first view.",
    ),
    Setting(
        "HWC_STATUS_RETENTION_DAYS",
        "status_retention_days",
        "Status rows and pushes (no names) are purged this many days after the signal ended.",
    ),
    Setting(
        "HWC_REVOKED_RETENTION_DAYS",
        "revoked_retention_days",
        "Revoked people, devices and API keys are erased this many days after revocation.",
    ),
    Setting(
        "HWC_TOKEN_RETENTION_DAYS",
        "token_retention_days",
        "Spent or expired enrolment links are deleted this many days after use or expiry.",
    ),
    Setting("HWC_ENROL_TOKEN_DAYS", "enrol_token_days", "Enrolment links expire after this."),
    Setting("HWC_MAX_BODY_BYTES", "max_body_bytes", "Largest request body accepted."),
    Setting(
        "HWC_PUSH_CONCURRENCY",
        "push_concurrency",
        "Pushes in flight at once to one push service (each has its own slots, so a slow "
        "one never delays another); to all of them together four times this.",
    ),
    Setting(
        "HWC_PUSH_TIMEOUT_SECONDS",
        "push_timeout_seconds",
        "Timeout of one request to a push service.",
    ),
    Setting(
        "HWC_PUSH_HOSTS",
        "push_hosts",
        "Push service hosts the server may call, space-separated: a name, `*.` and a "
        "domain for its subdomains, or `*` for any public host. Every address a host "
        "resolves to must be public; loopback only when HWC_BASE_URL is on loopback.",
    ),
    Setting(
        "HWC_METRICS_TOKEN",
        "metrics_token",
        "Bearer token for /metrics; /metrics is off when empty.",
    ),
    Setting(
        "HWC_TRUSTED_PROXY",
        "trusted_proxy",
        "Addresses or networks (comma-separated) of the reverse proxy whose X-Forwarded-For "
        "and -Proto headers are trusted; none when empty.",
    ),
    Setting(
        "HWC_HEADER_TIMEOUT_SECONDS",
        "header_timeout_seconds",
        "A connection's request line and headers must arrive within this many seconds (of "
        "connecting, or of its previous response); else it is closed.",
    ),
    Setting(
        "HWC_BODY_TIMEOUT_SECONDS",
        "body_timeout_seconds",
        "A request body still arriving at the header timeout must be complete this many "
        "seconds later; else the connection is closed.",
    ),
    Setting(
        "HWC_MAX_CONNECTIONS",
        "max_connections",
        "Open connections at most; one more is answered 503 and closed. Keep it below the "
        "process's open-file limit.",
    ),
    Setting("HWC_LOG_LEVEL", "log_level", "Log level of the hwc loggers."),
    Setting(
        "HWC_OPERATOR_NAME",
        "operator_name",
        "The organisation that deploys the app, named in the accessibility statement "
        "(/toegankelijkheid). Fill in.",
    ),
    Setting(
        "HWC_OPERATOR_EMAIL",
        "operator_email",
        "E-mail address for accessibility feedback in the statement. Fill in.",
    ),
    Setting(
        "HWC_OPERATOR_PHONE",
        "operator_phone",
        "Phone number for accessibility feedback in the statement. Fill in.",
    ),
)


@dataclass(frozen=True)
class Settings:
    database: str = "hwc.db"
    base_url: str = "http://localhost:8000"
    secret_key: str = ""
    vapid_private_key: str = ""
    vapid_sub: str = "mailto:beheer@example.org"
    school_start: str = "08:15"
    school_end: str = "17:00"
    min_lead_minutes: int = 60
    remind_after_minutes: int = 30
    relay_remind_minutes: int = 60
    max_days: int = 7
    quiet_hours: str = "21:00-06:30"
    view_grace_minutes: int = 10
    status_retention_days: int = 14
    revoked_retention_days: int = 30
    token_retention_days: int = 30
    enrol_token_days: int = 7
    max_body_bytes: int = 64 * 1024
    push_concurrency: int = 50
    push_timeout_seconds: int = 10
    push_hosts: str = (
        "fcm.googleapis.com *.push.services.mozilla.com *.push.apple.com *.notify.windows.com"
    )
    metrics_token: str = ""
    trusted_proxy: str = ""
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 30
    max_connections: int = 1000
    log_level: str = "INFO"
    # Shown on the statement as they are until the operator fills them in.
    operator_name: str = "[naam van de organisatie: nog in te vullen met HWC_OPERATOR_NAME]"
    operator_email: str = "[e-mailadres: nog in te vullen met HWC_OPERATOR_EMAIL]"
    operator_phone: str = "[telefoonnummer: nog in te vullen met HWC_OPERATOR_PHONE]"
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
    def quiet(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours)


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
