"""`python -m ms365sync` runs the command line."""

from __future__ import annotations

from ms365sync.cli import main

if __name__ == "__main__":
    main()
