"""One table lists every HWC_* setting; the README shows exactly that table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from server.settings import SETTINGS, Settings, settings_table_markdown


def test_every_setting_field_has_one_documented_variable() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)} - {"run_workers"}
    assert sorted(s.field for s in SETTINGS) == sorted(fields)
    assert all(s.env == "HWC_" + s.field.upper() for s in SETTINGS)


def test_from_env_reads_and_parses() -> None:
    settings = Settings.from_env({"HWC_DATABASE": "/tmp/x.db", "HWC_MAX_DAYS": "3"})
    assert (settings.database, settings.max_days, settings.school_start) == ("/tmp/x.db", 3,
                                                                            "08:15")
    with pytest.raises(SystemExit, match="HWC_MAX_DAYS must be a whole number"):
        Settings.from_env({"HWC_MAX_DAYS": "three"})
    assert Settings.from_env({"HWC_QUIET_HOURS": "off"}).quiet is None
    assert str(Settings.from_env({"HWC_QUIET_HOURS": "22:00-07:15"}).quiet) == \
        "QuietHours(start=datetime.time(22, 0), end=datetime.time(7, 15))"
    with pytest.raises(SystemExit, match="HWC_QUIET_HOURS: quiet hours must be HH:MM-HH:MM"):
        Settings.from_env({"HWC_QUIET_HOURS": "21-6"})


def test_readme_configuration_table_is_the_settings_table() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert settings_table_markdown() in readme
