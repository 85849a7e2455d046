"""Biome lints the app's JavaScript (`biome.json`: rules that catch bugs, not style); any finding
fails, and so does a missing npm."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.npmtools import ROOT, npm_tool

# Pinned major; `preset` in biome.json needs 2.6 or later.
BIOME = "@biomejs/biome@^2.6"


def biome_lint(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(npm_tool(BIOME, "biome")), "lint", "--error-on-warnings", "--colors=off"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_biome_finds_nothing_in_the_app() -> None:
    done = biome_lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Checked " in done.stdout + done.stderr


def test_biome_catches_the_bugs_it_is_configured_for(tmp_path: Path) -> None:
    """The configuration is live: a module under pwa/ with an unused variable, an undeclared
    global and a return inside finally gets all three findings."""
    shutil.copy(ROOT / "biome.json", tmp_path / "biome.json")
    (tmp_path / "pwa").mkdir()
    (tmp_path / "pwa" / "probe.js").write_text(
        "export function f() {\n"
        "  const unused = 1;\n"
        "  try { return missingGlobal; } finally { return 2; }\n"
        "}\n"
    )
    done = biome_lint(tmp_path)
    found = done.stdout + done.stderr
    assert done.returncode != 0, found
    for rule in ("noUnusedVariables", "noUndeclaredVariables", "noUnsafeFinally"):
        assert f"lint/correctness/{rule}" in found, found
