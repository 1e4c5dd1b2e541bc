"""Many targets in one run: a syncer per target, run concurrently, failures isolated.

All targets of the configuration belong to one tenant, so they share one token provider,
one pooled Graph client and therefore one throttle gate: a 429 or 503 on any of them pauses
all of them for the Retry-After (graph-facts §9.5, "pause all threads"). Downloads across targets
share one global limit (`max_connections`). Each target still takes its own lock, so two
runs never work on the same target at once.

A stop token (`sync.stop.Stop`) passed to `run` reaches every syncer: once it is
requested no target starts, and the running ones record what they did and end.
"""

from __future__ import annotations

import datetime
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loguru import logger

from ms365sync.config import Config, Target
from ms365sync.errors import AuthError, ConfigError, MS365SyncError
from ms365sync.graph.budget import open_budget
from ms365sync.graph.connect import SessionFactory, connect
from ms365sync.state.meta import SweepRecord
from ms365sync.state.store import StateStore
from ms365sync.sync.apply import Progress
from ms365sync.sync.budget import Due, SweepBudget
from ms365sync.sync.claims import LibraryClaims
from ms365sync.sync.result import SyncResult
from ms365sync.sync.stop import Stop
from ms365sync.sync.syncer import Syncer
from ms365sync.target import GRANTS_FILE

if TYPE_CHECKING:
    from ms365sync.principals.refresh import Refresh

ON_CHANGE_TIMEOUT = 600.0


@dataclass
class RunReport:
    """The outcome of every selected target."""

    results: list[SyncResult] = field(default_factory=list)
    hook_failures: dict[str, str] = field(default_factory=dict)
    principals: Refresh | None = None  # the principals snapshot's refresh, when configured
    principals_error: MS365SyncError | None = None  # why it failed (the targets did not)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def interrupted(self) -> bool:
        """Whether a stop cut some target short (or kept it from starting)."""
        return any(result.interrupted for result in self.results)

    @property
    def exit_code(self) -> int:
        """0 when every target succeeded, 3 when authentication failed, 2 when a target
        failed for a mistake in the configuration (two targets for one library), else 1."""
        if self.ok:
            return 0
        errors = [r.error for r in self.results if not r.ok]
        if any(isinstance(error, AuthError) for error in errors):
            return 3
        if any(isinstance(error, ConfigError) for error in errors):
            return 2
        return 1


ProgressFactory = Callable[[Target], Progress]


class Coordinator:
    """Runs the configuration's targets; construct once per process (it holds the client)."""

    def __init__(
        self,
        config: Config,
        *,
        session_factory: SessionFactory | None = None,
        progress: ProgressFactory | None = None,
        shards: int = 1,
    ) -> None:
        """`shards`: how many workers the configuration's targets are split over (each
        paces itself to that part of the tenant's budget unless `[run] budget_url` shares
        the whole of it).

        Raises:
            ConfigError: `[run] budget_url` is set and the redis extra is not installed.
        """
        self.config = config
        self.shards = max(1, shards)
        run = config.settings.run
        self.budget = open_budget(
            run.budget_url,
            run.ru_per_minute,
            run.ru_per_day,
            shares=self.shards,
            tenant=config.app.tenant_id,
            client_id=config.app.client_id,
        )
        if self.budget is not None:
            logger.info("budget: {}", self.budget.description)
        # Room for every download slot plus the listing and permission calls beside them.
        self.client = connect(
            config.app,
            config.cloud,
            session_factory=session_factory,
            pool_size=config.max_connections + 8,
            download_slots=config.max_connections,
            budget=self.budget,
        )
        self.progress = progress
        self._session_factory = session_factory

    def close(self) -> None:
        self.client.close()
        if self.budget is not None:
            self.budget.close()

    def authenticate(self) -> None:
        """Get a token now, so a wrong credential fails the run at once.

        Raises:
            AuthError: the identity platform refused the credential.
        """
        self.client.authenticate()

    def run(
        self,
        targets: Sequence[Target],
        *,
        dry_run: bool = False,
        force: bool = False,
        stop: Stop | None = None,
    ) -> RunReport:
        """Sync `targets`, at most `parallel_targets` at a time; never raises for a target.
        Once `stop` is requested no target starts (each is reported `interrupted`).

        Raises:
            AuthError: from `authenticate`, before any target starts.
        """
        self.authenticate()
        report = RunReport()
        workers = max(1, min(self.config.parallel_targets, len(targets)))
        claims = LibraryClaims([target.spec for target in targets])
        budget = None if dry_run else self.sweep_budget(targets, time.time())
        # Submitted in order, started in order: what LibraryClaims relies on.
        with futures.ThreadPoolExecutor(workers, "ms365sync-target") as pool:
            jobs = [
                pool.submit(self._one, target, claims, budget, (dry_run, force), stop)
                for target in targets
            ]
            report.results = [job.result() for job in jobs]
        for target, result in zip(targets, report.results, strict=True):
            failure = self._hook(target, result)
            if failure:
                report.hook_failures[target.name] = failure
        if not dry_run and self.config.settings.principals.expand and not report.interrupted:
            self._refresh_principals(report)
        return report

    def _refresh_principals(self, report: RunReport, *, force: bool = False) -> None:
        """Refresh the tenant's principals snapshot if it is due, from the grants files of
        every configured target; a failure is reported, never fails the targets."""
        from ms365sync.principals.refresh import refresh  # noqa: PLC0415 -- when configured only

        settings = self.config.settings
        try:
            report.principals = refresh(
                self.client,
                self.config.app,
                self.config.cloud,
                settings.defaults.data_root,
                [t.spec.local_root / GRANTS_FILE for t in self.config.targets()],
                every=settings.principals.refresh,
                now=datetime.datetime.now(datetime.timezone.utc),
                force=force,
                lock_timeout=settings.run.lock_timeout,
                session_factory=self._session_factory,
            )
        except MS365SyncError as exc:
            logger.error("principals: {}", exc)
            report.principals_error = exc

    def sweep_budget(self, targets: Sequence[Target], now: float) -> SweepBudget:
        """The sweeps' share of the tenant's daily budget, less what every configured
        target's sweeps spent in the last 24 hours, reserved for the due sweeps of `targets`
        (from what each target's state recorded; a target never synced has none due)."""
        spent: list[SweepRecord] = []
        due: list[Due] = []
        selected = {target.name for target in targets}
        # A shard counts only its own targets' sweeps against its part of the day.
        for target in targets if self.shards > 1 else self.config.targets():
            meta = StateStore.read_meta(target.spec.state_dir)
            if meta is None:
                continue
            spent.extend(meta.sweeps)
            policy = target.spec.permissions
            kind = policy.kind_due(meta.last_sweep, meta.last_full_sweep, now)
            if target.name not in selected or kind is None:
                continue
            if kind == "structure" and meta.hierarchical is False:
                kind = "full"  # what the syncer will make of it
            estimate = meta.sweep_estimates.get(kind)
            if estimate is not None:
                due.append(Due(target.name, kind, estimate, meta.last_sweep))
        # A shard plans its sweeps within its part of the day (it sees only its targets').
        settings = self.config.settings.run.budget().part(self.shards)
        return SweepBudget.plan(settings, spent, due, now)

    def _one(
        self,
        target: Target,
        claims: LibraryClaims,
        budget: SweepBudget | None,
        how: tuple[bool, bool],  # dry_run, force
        stop: Stop | None,
    ) -> SyncResult:
        dry_run, force = how
        with logger.contextualize(target=target.name):  # every line of this target names it
            try:
                if stop is not None and stop.requested:
                    logger.debug("{}: not started: stopping", target.name)
                    return SyncResult(target.name, ok=True, dry_run=dry_run, interrupted=True)
                progress = self.progress(target) if self.progress is not None else None
                syncer = Syncer(
                    target.spec,
                    self.client,
                    progress=progress,
                    claims=claims,
                    budget=budget,
                    stop=stop,
                    max_downloads=self.config.max_connections,
                )
                return syncer.sync(dry_run=dry_run, force=force)
            except MS365SyncError as exc:  # a failure outside the syncer's own handling
                logger.error("{}: {}", target.name, exc)
                return SyncResult(target.name, ok=False, dry_run=dry_run, error=exc)
            finally:
                claims.settle(target.name)  # also when it never got as far as claiming

    @staticmethod
    def _hook(target: Target, result: SyncResult) -> str | None:
        """Run the target's on_change command with the new change log, if there is one."""
        if not target.on_change or not result.ok or result.log_path is None:
            return None
        command = [*shlex.split(target.on_change), str(result.log_path)]
        env = {
            **os.environ,
            "MS365SYNC_CHANGE_LOG": str(result.log_path),
            "MS365SYNC_TARGET": target.name,
        }
        try:
            done = subprocess.run(  # the user's own configured command
                command, env=env, timeout=ON_CHANGE_TIMEOUT, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning("{}: on_change command failed to run: {}", target.name, exc)
            return f"could not run: {exc}"
        if done.returncode != 0:
            logger.warning("{}: on_change command exited with {}", target.name, done.returncode)
            return f"exited with status {done.returncode}"
        return None
