"""Every HWC_* setting in one table: name, default and help. The README table comes from here."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any


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
    Setting("HWC_BASE_URL", "base_url",
            "Public origin of the app; used in links and as the VAPID audience."),
    Setting("HWC_SECRET_KEY", "secret_key",
            "Signing key for enrolment links; made and kept in the database when empty."),
    Setting("HWC_VAPID_PRIVATE_KEY", "vapid_private_key",
            "VAPID private key (base64url raw P-256); made and kept in the database when empty."),
    Setting("HWC_VAPID_SUB", "vapid_sub",
            "VAPID contact (mailto: or https:) sent to push services."),
    Setting("HWC_SCHOOL_START", "school_start", "When the school day starts (HH:MM)."),
    Setting("HWC_SCHOOL_END", "school_end", "When the school day ends (HH:MM)."),
    Setting("HWC_MIN_LEAD_MINUTES", "min_lead_minutes",
            "Minimum time between sending and the deadline."),
    Setting("HWC_REMIND_AFTER_MINUTES", "remind_after_minutes",
            "Push a contact again when a signal is unopened this long."),
    Setting("HWC_RELAY_REMIND_MINUTES", "relay_remind_minutes",
            "Push a leerplicht officer again when a signal is not relayed this long."),
    Setting("HWC_MAX_DAYS", "max_days",
            "A signal expires at most this many days after sending."),
    Setting("HWC_VIEW_GRACE_MINUTES", "view_grace_minutes",
            "A teacher's copy survives a reload this long after the first view."),
    Setting("HWC_STATUS_RETENTION_DAYS", "status_retention_days",
            "Status rows (no personal data) are purged after this many days."),
    Setting("HWC_REVOKED_RETENTION_DAYS", "revoked_retention_days",
            "Revoked people, devices and API keys are erased this many days after revocation."),
    Setting("HWC_TOKEN_RETENTION_DAYS", "token_retention_days",
            "Spent or expired enrolment links are deleted this many days after use or expiry."),
    Setting("HWC_ENROL_TOKEN_DAYS", "enrol_token_days", "Enrolment links expire after this."),
    Setting("HWC_MAX_BODY_BYTES", "max_body_bytes", "Largest request body accepted."),
    Setting("HWC_PUSH_CONCURRENCY", "push_concurrency", "Pushes in flight at once."),
    Setting("HWC_PUSH_TIMEOUT_SECONDS", "push_timeout_seconds",
            "Timeout of one request to a push service."),
    Setting("HWC_METRICS_TOKEN", "metrics_token",
            "Bearer token for /metrics; /metrics is off when empty."),
    Setting("HWC_TRUSTED_PROXY", "trusted_proxy",
            "Address whose X-Forwarded-* headers are trusted."),
    Setting("HWC_LOG_LEVEL", "log_level", "Log level of the hwc loggers."),
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
    view_grace_minutes: int = 10
    status_retention_days: int = 14
    revoked_retention_days: int = 30
    token_retention_days: int = 30
    enrol_token_days: int = 7
    max_body_bytes: int = 64 * 1024
    push_concurrency: int = 50
    push_timeout_seconds: int = 10
    metrics_token: str = ""
    trusted_proxy: str = "127.0.0.1"
    log_level: str = "INFO"
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
    def school_start_time(self) -> time:
        return time.fromisoformat(self.school_start)

    @property
    def school_end_time(self) -> time:
        return time.fromisoformat(self.school_end)


def _parse(setting: Setting, raw: str) -> Any:
    if isinstance(setting.default, int):
        try:
            return int(raw)
        except ValueError:
            raise SystemExit(f"{setting.env} must be a whole number, got {raw!r}") from None
    return raw


def settings_table_markdown() -> str:
    """The configuration table of the README."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.env}` | `{s.default}` | {s.help} |" for s in SETTINGS]
    return "\n".join(rows)
