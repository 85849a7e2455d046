"""Command-line tools from npm that the tests use, each installed once into `.hwc/<folder>`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".hwc"


def npm_tool(package: str, command: str) -> Path:
    """The executable `command` of the npm `package` (a spec such as `lighthouse@12`), installed
    into `.hwc/<command>` on first use. No npm fails the test: these checks are never skipped."""
    folder = TOOLS / command
    executable = folder / "node_modules" / ".bin" / command
    if not executable.exists():
        npm = shutil.which("npm")
        assert npm, f"npm is required to install {package}: the test must run, never be skipped"
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                str(folder),
                package,
            ],
            check=True,
            timeout=300,
        )
    return executable
