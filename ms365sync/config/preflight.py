"""What `ms365sync check` verifies on this machine before a run: that each target's local
root is writable (or can be created) and that its `on_change` command can be found."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from ms365sync.config.load import Target

__all__ = ["local_problems"]


def local_problems(target: Target) -> list[str]:
    """What on this machine would stop `target`'s run or its hook, one phrase each; none
    when its local root is usable and its `on_change` command (if any) is found."""
    problems = [_root_problem(target.spec.local_root), _command_problem(target.on_change)]
    return [problem for problem in problems if problem is not None]


def _root_problem(root: Path) -> str | None:
    """Why `root` cannot hold a mirror: it is not a writable folder, or, when it does not
    exist, its nearest existing parent is not one (a run creates the missing folders)."""
    existing = root
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing != root:
        if not existing.is_dir():
            return f"local root {root} cannot be created: {existing} is not a folder"
        if not _writable(existing):
            return f"local root {root} cannot be created: {existing} is not writable"
        return None
    if not root.is_dir():
        return f"local root {root} is not a folder"
    if not _writable(root):
        return f"local root {root} is not writable"
    return None


def _writable(folder: Path) -> bool:
    # access(2) also answers EROFS for a read-only file system, where root may not write either.
    return os.access(folder, os.W_OK | os.X_OK)


def _command_problem(command: str | None) -> str | None:
    """Why the hook cannot start: its program (split as the hook splits it) is neither on
    PATH nor an executable file at the path given."""
    if command is None:
        return None
    words = shlex.split(command)  # the schema has checked that it splits
    if not words:
        return f"on_change {command!r} names no program"
    program = words[0]
    if shutil.which(program) is not None:
        return None
    if os.sep in program:
        return f"on_change program {program} is not an executable file"
    return f"on_change program {program!r} is not found on PATH"
