"""A run's permission sweep: which kind is due, the budget's word on it, the structure
listing made before the run's transaction, and what a sweep records once it has read.

A structure sweep asks the service for the library's permission roots in a listing of its
own (`sync.structure`); a full sweep reads every file (`sync.permissions`). A service that
marks no roots gets a full sweep instead, and so does a structure listing whose root came
unmarked (graph-facts §5.10). The tenant's budget (`sync.budget`) may defer a sweep and
paces the one it allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger

from ms365sync.errors import GraphError, TransportError
from ms365sync.graph.client import GraphClient
from ms365sync.state.meta import Deferral
from ms365sync.state.store import StageSummary, StateStore
from ms365sync.sync import permissions, structure
from ms365sync.sync.budget import SweepBudget
from ms365sync.sync.stop import Stop
from ms365sync.target import SweepKind, TargetSpec

__all__ = ["SweepPlan", "Sweeps"]


@dataclass(frozen=True)
class SweepPlan:
    """The sweep a run makes (`kind`; None: none), its staged structure enumeration, a due
    sweep the budget deferred, and what paces the sweep's requests."""

    kind: SweepKind | None
    enumeration: structure.Enumeration | None = None
    deferral: Deferral | None = None
    pace: Callable[[float], float] | None = None  # the budget's pacing, for a real run


@dataclass
class Sweeps:
    """One target's sweeps, for one run; its remarks go to `notes` (the run's)."""

    client: GraphClient
    spec: TargetSpec
    budget: SweepBudget | None
    stop: Stop | None
    notes: list[str]

    def plan(
        self,
        state: StateStore,
        drive_id: str,
        *,
        full_listing: bool,
        hierarchical: bool,
        now: float,
        dry: bool,
    ) -> SweepPlan:
        """The sweep this run makes, if one is due and the budget allows it. A structure
        sweep's listing is made here, before the run's transaction; after a full listing
        (which marked every root already) none is needed. `hierarchical`: whether the
        service honours hierarchical sharing.

        Raises:
            Stopped: the run was asked to stop during the structure listing.
        """
        meta = state.meta
        kind = self.spec.permissions.kind_due(meta.last_sweep, meta.last_full_sweep, now)
        if kind is None:
            return SweepPlan(None)
        if kind == "structure" and not hierarchical:
            self.notes.append(
                "the service marks no permission roots (hierarchical sharing): a full sweep "
                "instead of a structure sweep"
            )
            kind = "full"
        deferral = self._granted(state, kind, now, dry)
        if deferral is not None:
            return SweepPlan(None, deferral=deferral)
        pace = None if self.budget is None or dry else self.budget.pace
        if kind == "full" or full_listing:
            return SweepPlan(kind, pace=pace)
        return self._listed(state, drive_id, pace, now, dry)

    def _listed(
        self,
        state: StateStore,
        drive_id: str,
        pace: Callable[[float], float] | None,
        now: float,
        dry: bool,
    ) -> SweepPlan:
        """A structure sweep with its listing made, or what replaces it: none when the
        listing failed, a full sweep when it came without marks."""
        try:
            enumeration = structure.enumerate_roots(
                self.client,
                state,
                drive_id,
                page_size=self.spec.page_size,
                pace=pace,
                stop=self.stop,
            )
        except (GraphError, TransportError) as exc:
            # The run's own work does not depend on the sweep: it goes on, and the sweep,
            # not recorded as done, is due again next run.
            logger.warning("{}: structure sweep failed: {}", self.spec.name, exc)
            self.notes.append(f"structure sweep left for the next run: {exc}")
            return SweepPlan(None)
        if enumeration.root_marked:
            return SweepPlan("structure", enumeration, pace=pace)
        # Without the root's mark the service sent no marks this time (it has dropped them
        # before): taking them would make every file inherit from the library's root.
        logger.warning("{}: the structure listing marked no roots", self.spec.name)
        self.notes.append(
            "the structure listing came without permission-root marks: a full sweep instead"
        )
        deferral = self._granted(state, "full", now, dry)
        if deferral is not None:
            return SweepPlan(None, deferral=deferral)
        return SweepPlan("full", pace=pace)

    def record(
        self,
        state: StateStore,
        plan: SweepPlan,
        outcome: permissions.PermissionOutcome,
        summary: StageSummary,
        now: float,
    ) -> None:
        """What the run's sweep did, in the run's transaction: when, of which kind, what it
        cost, a sweep the budget deferred, and what a sweep of the tree as it is now would
        cost."""
        if state.meta.last_sweep is None:
            # The first full listing counts as a sweep of either kind: every root is read.
            state.set_last_sweep(now)
            state.set_last_full_sweep(now)
        state.set_sweep_deferred(plan.deferral)
        if plan.kind is not None:
            # Done also when some reads failed: those are retried by the next run like any
            # failed read (their files reported as errors until then), which is what
            # sweeping again would do for them, without reading every other root again.
            spent = outcome.read * permissions.RU_PER_READ
            if plan.enumeration is not None:
                spent += plan.enumeration.resource_units
            state.set_last_sweep(now)
            if plan.kind == "full":
                state.set_last_full_sweep(now)
            state.record_sweep(now, plan.kind, spent)
            paced = outcome.paced + (plan.enumeration.paced if plan.enumeration else 0.0)
            self.notes.append(note(plan.kind, outcome, spent, paced))
        if plan.kind or summary.reported or summary.removed or not state.meta.sweep_estimates:
            state.set_sweep_estimates(
                self.estimate(state, "structure"), self.estimate(state, "full")
            )

    def estimate(self, state: StateStore, kind: SweepKind) -> float:
        """The resource units a `kind` sweep of the committed tree costs, about."""
        structure_reads, full_reads = state.sweep_reads()
        if kind == "full":
            return full_reads * permissions.RU_PER_READ
        pages = -(-state.item_count() // self.spec.page_size)
        return structure.enumeration_units(pages) + structure_reads * permissions.RU_PER_READ

    def _granted(
        self, state: StateStore, kind: SweepKind, now: float, dry: bool
    ) -> Deferral | None:
        """Ask the budget for a `kind` sweep; the deferral if it refused (None: go ahead)."""
        if self.budget is None or dry:
            return None
        grant = self.budget.request(self.spec.name, kind, self.estimate(state, kind), now)
        if grant.ok:
            return None
        logger.warning("{}: permission sweep deferred: {}", self.spec.name, grant.reason)
        self.notes.append(f"permission sweep deferred: {grant.reason}")
        when = grant.retry_at if grant.retry_at is not None else -1.0
        return Deferral(when, kind, grant.reason)


def note(
    kind: SweepKind, outcome: permissions.PermissionOutcome, spent: float, paced: float
) -> str:
    """The run's note on its sweep: what it read, what it cost, how long it waited."""
    reads = f"{outcome.read} {'item' if outcome.read == 1 else 'items'}"
    change = outcome.structure
    roots = (
        f"; {change.roots} marked as permission roots, {change.became} new, "
        f"{change.ceased} no longer roots"
        if change is not None
        else ""
    )
    failed = len(outcome.failed)
    retried = f"; {failed} of the reads failed and are retried next run" if failed else ""
    waited = f", paced for {paced:,.0f} s to its share of the minute budget" if paced else ""
    return (
        f"{kind} permission sweep: read the permissions of {reads}{roots}{retried}; "
        f"about {spent:,.0f} RU{waited}"
    )
