"""The README's module map names every module of server/ and pwa/, each once, and nothing else."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([^`]+)` \| (.+) \|$")


def mapped() -> list[tuple[str, str]]:
    """(path, concern) of each row of the table under '## Architecture'."""
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines()]
    return [(m[1], m[2].strip()) for m in rows if m]


def modules() -> set[str]:
    found = {
        *ROOT.glob("server/**/*.py"),
        *ROOT.glob("pwa/**/*.js"),
        *ROOT.glob("pwa/**/*.py"),
    }
    return {
        p.relative_to(ROOT).as_posix()
        for p in found
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }


def test_the_map_names_every_module_and_only_modules() -> None:
    paths = {path for path, _ in mapped()}
    assert sorted(modules() - paths) == [], "modules missing from the README's module map"
    assert sorted(paths - modules()) == [], "the README's module map names missing modules"


def test_each_module_has_one_line_that_says_what_it_is_for() -> None:
    rows = mapped()
    assert [p for p, n in Counter(p for p, _ in rows).items() if n > 1] == []
    assert [p for p, concern in rows if len(concern) < 20] == []
