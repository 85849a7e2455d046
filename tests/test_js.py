"""The JavaScript unit tests (Node's own runner) as one pytest test, so CI cannot skip them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_node_test_suite_passes() -> None:
    node = shutil.which("node")
    assert node, "node is required: the JS tests must run, never be skipped"
    done = subprocess.run(
        [node, "--test", "tests/js/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
