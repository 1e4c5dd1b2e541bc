"""`python -m ms365sync.outputs.schemas [--check]`: regenerate or check the shipped schemas."""

from __future__ import annotations

import sys
from pathlib import Path

from ms365sync.outputs.schemas import NAMES, render, write_all


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    if argv == ["--check"]:
        stale = [n for n in NAMES if (here / f"{n}.json").read_text("utf-8") != render(n)]
        for name in stale:
            print(f"{here / name}.json is out of date: run python -m ms365sync.outputs.schemas")
        return 1 if stale else 0
    if argv:
        print("usage: python -m ms365sync.outputs.schemas [--check]", file=sys.stderr)
        return 2
    for path in write_all(here):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
