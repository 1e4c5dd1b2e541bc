"""The tenant's resource-unit budget for permission sweeps, shared by every target of a run.

SharePoint gives an app a one-minute and a daily budget of resource units per tenant by
licence band (graph-facts §9.3) and announces neither in advance (the RateLimit headers come
only near the end of a minute's budget). Sweeps are the one large, postponable spender, so
they get at most `share` of each:

- of the daily budget, counted over the trailing 24 hours from what each target recorded
  of its own sweeps: the coordinator reserves the allowance for the due sweeps, oldest
  verification first; a sweep that does not fit is deferred, with the time it should fit
  and a one-line reason;
- of the one-minute budget, by pacing: the sweeps of all targets together draw their
  requests' units from one bucket that holds a minute's share and refills at that rate,
  so the rest of the run (listings, downloads) keeps the other part of every minute.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ms365sync.state.meta import SWEEP_WINDOW_S, SweepRecord
from ms365sync.target import SMALLEST_BAND, BudgetSettings, SweepKind

__all__ = ["SMALLEST_BAND", "BudgetSettings", "Due", "Grant", "SweepBudget"]


@dataclass(frozen=True)
class Due:
    """A target whose sweep is due: what kind, its estimated cost, when last verified."""

    target: str
    kind: SweepKind
    estimate: float
    verified: float | None


@dataclass(frozen=True)
class Grant:
    """The answer to a sweep's request: allowed, or deferred until `retry_at` (None: it can
    never fit the allowance as configured) for `reason`."""

    ok: bool
    reason: str = ""
    retry_at: float | None = None


@dataclass
class SweepBudget:
    """Thread-safe: every target's syncer asks it before sweeping."""

    settings: BudgetSettings
    spent: list[SweepRecord] = field(default_factory=list)
    reserved: dict[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _bucket: float | None = field(default=None, repr=False)  # units left (None: full)
    _filled: float = field(default=0.0, repr=False)  # the clock when it was last topped up

    @classmethod
    def plan(
        cls,
        settings: BudgetSettings,
        spent: Iterable[SweepRecord],
        due: Sequence[Due],
        now: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SweepBudget:
        """Reserve the allowance left for the due sweeps, the longest unverified first
        (never verified before any); a sweep that does not fit reserves nothing, and the
        ones after it may still fit."""
        recent = [r for r in spent if now - r.at < SWEEP_WINDOW_S]
        budget = cls(settings, sorted(recent, key=lambda r: r.at), clock=clock, sleep=sleep)
        left = settings.allowance - budget.total_spent
        for item in sorted(due, key=lambda d: (d.verified or -math.inf, d.target)):
            if item.estimate <= left:
                budget.reserved[item.target] = item.estimate
                left -= item.estimate
        return budget

    @property
    def total_spent(self) -> float:
        return sum(r.ru for r in self.spent)

    def request(self, target: str, kind: SweepKind, estimate: float, now: float) -> Grant:
        """May `target` spend about `estimate` RU on a `kind` sweep now? A granted sweep is
        counted as spent (its syncer records what it really spent for later runs)."""
        with self._lock:
            reserved = self.reserved.pop(target, None)
            left = self.settings.allowance - self.total_spent - sum(self.reserved.values())
            if reserved is not None or estimate <= left:
                self.spent.append(SweepRecord(now, kind, estimate))
                return Grant(True)
            return self._deferral(kind, estimate, left, now)

    def pace(self, units: float) -> float:
        """Take `units` from the sweeps' share of the one-minute budget, first waiting for
        them if the share is spent (callers take at most a `$batch` worth at a time).
        Returns the seconds waited. Thread-safe: waiting callers are served in turn."""
        per_minute = self.settings.ru_per_minute * self.settings.share
        rate = per_minute / 60.0
        with self._lock:
            now = self.clock()
            if self._bucket is None:
                self._bucket = per_minute
            else:
                self._bucket = min(per_minute, self._bucket + (now - self._filled) * rate)
            self._filled = now
            self._bucket -= units  # below zero: a debt this caller waits out
            wait = -self._bucket / rate if self._bucket < 0 else 0.0
        if wait > 0:
            self.sleep(wait)
        return wait

    def _deferral(self, kind: SweepKind, estimate: float, left: float, now: float) -> Grant:
        allowance = self.settings.allowance
        band = (
            f"sweep_budget_share {self.settings.share:.0%} of ru_per_day "
            f"{self.settings.ru_per_day:,}"
        )
        if estimate > allowance:
            reason = (
                f"a {kind} sweep needs about {estimate:,.0f} RU, more than the whole sweep "
                f"allowance of {allowance:,.0f} RU ({band})"
            )
            return Grant(False, reason, None)
        reason = (
            f"a {kind} sweep needs about {estimate:,.0f} RU and {max(left, 0):,.0f} of the "
            f"{allowance:,.0f} RU sweep allowance ({band}) are left in the last 24 hours"
        )
        return Grant(False, reason, self._fits_at(estimate, now))

    def _fits_at(self, estimate: float, now: float) -> float:
        """When enough spending has left the 24-hour window for `estimate` (the sweeps
        reserved for this run counted as spent now)."""
        pending = [SweepRecord(now, "reserved", ru) for ru in self.reserved.values()]
        need = self.total_spent + sum(self.reserved.values()) + estimate - self.settings.allowance
        freed = 0.0
        for record in [*self.spent, *pending]:  # oldest first
            freed += record.ru
            if freed >= need:
                return record.at + SWEEP_WINDOW_S
        return now + SWEEP_WINDOW_S  # not reached: estimate <= allowance
