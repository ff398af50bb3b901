"""Summarise a ``py-spy record --format raw`` file: the frames where the samples were taken.

``python -m bench.profile_summary FILE [--top N]`` prints the top frames by own samples
(the innermost frame of each stack) and by inclusive samples (anywhere in the stack, counted
once per stack), as percentages of all samples.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r" \((?P<where>[^()]*):\d+\)$")


def frame_name(frame: str) -> str:
    """``function (file)`` without the line number, so that a function's lines add up."""
    return _LINE.sub(lambda m: f" ({m['where']})", frame.strip())


def summarise(text: str, top: int = 15) -> str:
    """The two tables of a raw (collapsed stacks) profile."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [frame_name(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    out = [f"{total} samples"]
    for title, counter in (("own", own), ("inclusive", inclusive)):
        out.append(f"\ntop {top} by {title} samples:")
        for frame, samples in counter.most_common(top):
            out.append(f"  {100 * samples / max(total, 1):5.1f}%  {frame}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print the summary of one profile file."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile_summary")
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(summarise(args.file.read_text(), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
