"""Developer sessions: lint, typecheck and tests run in CI; soak, clients and bench run on
demand."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = None  # the interpreter nox runs under


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and the benchmarks."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "ms365sync", "benchmarks")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The CI test suite (the long fault soak and the real clients are excluded: see the
    soak and clients sessions)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-n", "auto", "-m", "not slow and not clients", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Long fault-injection and crash-consistency runs (not part of CI)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session(python=PYTHON)
def clients(session: nox.Session) -> None:
    """Real, unmodified Graph clients (msgraph-sdk with azure-identity, MSAL, and rclone when
    installed) against `emulator serve --public-names` through the shipped proxy."""
    session.install("-e", ".[clients]")
    session.run("pytest", "-m", "clients", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against the emulator; pass --quick for a smoke-sized run."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "benchmarks", *session.posargs)
