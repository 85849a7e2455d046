"""Summarize a py-spy raw profile (collapsed stacks): `python -m bench.hotspots FILE [N]`.

Prints the functions with the largest inclusive and self share of samples, so a profile
recorded with `python -m bench --profile DIR` can be read without a flame-graph viewer.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _name(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarize(path: str, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    app_lines: Counter[str] = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_name(fr) for fr in stack.split(";")]
            # The first frame may be the process/thread name: keep it, it is harmless.
            for name in set(frames):
                inclusive[name] += n
            self_time[frames[-1]] += n
            # The deepest line of the app's own code (server/ or bench/): where it spends.
            own = [fr for fr in stack.split(";") if "server/" in fr or "bench/" in fr]
            if own:
                app_lines[own[-1]] += n
    if not total:
        return f"{path}: no samples"
    lines = [f"{path}: {total} samples", "inclusive:"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {count / total:6.1%}  {name}" for name, count in self_time.most_common(top)]
    lines.append("deepest app line (server/, bench/), everything below it included:")
    lines += [f"  {count / total:6.1%}  {name}" for name, count in app_lines.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    top = int(argv[1]) if len(argv) > 1 else 25
    print(summarize(argv[0], top))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
