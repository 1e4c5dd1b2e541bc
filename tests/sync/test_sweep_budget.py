"""The sweeps' share of the tenant's daily budget: planned across targets, deferred when it
does not fit, recorded per target, and shown by `status`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import CliRunner

from ms365sync.cli.main import cli
from ms365sync.config import load_config
from ms365sync.coordinator import Coordinator
from ms365sync.emulator import Emulator, load_demo_tenant
from ms365sync.emulator.cli import sites_toml
from ms365sync.state.meta import SWEEP_WINDOW_S, SweepRecord
from ms365sync.state.store import StateStore
from ms365sync.sync.budget import Due, SweepBudget
from ms365sync.sync.syncer import Syncer
from ms365sync.target import BudgetSettings, PermissionPolicy
from support.harness import add_many, make_world

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

DAY = 24 * 3600.0


# ---------------------------------------------------------------------- the plan


def _budget(per_day: int, share: float = 1.0) -> BudgetSettings:
    return BudgetSettings(ru_per_minute=1_250, ru_per_day=per_day, share=share)


def test_the_allowance_is_the_share_of_the_daily_budget() -> None:
    assert BudgetSettings().allowance == 300_000  # 25 % of the smallest band's 1.2 M
    assert _budget(1_000, 0.5).allowance == 500


def test_the_longest_unverified_targets_are_reserved_first() -> None:
    due = [
        Due("recent", "structure", 400, verified=5_000.0),
        Due("old", "structure", 400, verified=1_000.0),
        Due("never", "structure", 400, verified=None),
    ]
    budget = SweepBudget.plan(_budget(1_000), [], due, now=10_000.0)
    assert budget.reserved == {"never": 400, "old": 400}
    # A reserved target gets its sweep whatever order the threads ask in.
    assert not budget.request("recent", "structure", 400, now=10_001.0).ok
    assert budget.request("old", "structure", 400, now=10_002.0).ok
    assert budget.request("never", "structure", 400, now=10_003.0).ok


def test_a_sweep_too_big_for_what_is_left_does_not_stop_smaller_ones() -> None:
    due = [Due("big", "full", 900, verified=1.0), Due("small", "structure", 300, verified=2.0)]
    spent = [SweepRecord(9_000.0, "structure", 200)]
    budget = SweepBudget.plan(_budget(1_000), spent, due, now=10_000.0)
    assert budget.reserved == {"small": 300}
    refused = budget.request("big", "full", 900, now=10_000.0)
    assert not refused.ok
    # It fits once both the 200 RU of 9,000 s and the 300 reserved now have left the window.
    assert refused.retry_at == 10_000.0 + SWEEP_WINDOW_S
    assert "a full sweep needs about 900 RU" in refused.reason
    assert "500 of the 1,000 RU sweep allowance" in refused.reason
    assert "(sweep_budget_share 100% of ru_per_day 1,000)" in refused.reason
    # A smaller one fits as soon as the 200 RU of 9,000 s are no longer counted.
    later = budget.request("big", "full", 600, now=10_000.0)
    assert not later.ok and later.retry_at == 9_000.0 + SWEEP_WINDOW_S


def test_spending_older_than_a_day_no_longer_counts() -> None:
    spent = [SweepRecord(0.0, "full", 1_000), SweepRecord(DAY / 2, "structure", 100)]
    budget = SweepBudget.plan(_budget(1_000), spent, [], now=DAY + 1)
    assert budget.total_spent == 100
    assert budget.request("t", "structure", 900, now=DAY + 1).ok
    assert not budget.request("u", "structure", 1, now=DAY + 2).ok


def test_a_sweep_larger_than_the_whole_allowance_says_it_can_never_fit() -> None:
    budget = SweepBudget.plan(_budget(1_000, 0.25), [], [], now=0.0)
    refused = budget.request("huge", "full", 500_000, now=0.0)
    assert not refused.ok and refused.retry_at is None
    assert "more than the whole sweep allowance of 250 RU" in refused.reason


# ---------------------------------------------------------------------- the policy


def test_structure_mode_makes_a_full_sweep_on_its_own_cadence() -> None:
    policy = PermissionPolicy("interval", 3_600, sweep="structure", full_interval_s=DAY)
    assert policy.kind_due(last_sweep=0.0, last_full=0.0, now=1_000) is None
    assert policy.kind_due(last_sweep=0.0, last_full=0.0, now=3_600) == "structure"
    assert policy.kind_due(last_sweep=DAY - 10, last_full=0.0, now=DAY) == "full"
    assert policy.next_due(last_sweep=100.0, last_full=0.0) == 3_700.0
    assert policy.next_due(last_sweep=DAY - 10, last_full=0.0) == DAY


def test_full_mode_ignores_the_full_sweep_cadence() -> None:
    policy = PermissionPolicy("interval", 3_600, sweep="full", full_interval_s=60)
    assert policy.kind_due(last_sweep=0.0, last_full=0.0, now=100) is None
    assert policy.kind_due(last_sweep=0.0, last_full=0.0, now=3_600) == "full"


def test_a_never_swept_target_owes_no_sweep_until_its_first_run() -> None:
    policy = PermissionPolicy("interval", 60, full_interval_s=60)
    assert policy.kind_due(None, None, now=1e9) is None
    assert policy.next_due(None, None) is None


# ---------------------------------------------------------------------- across targets


def _config(tmp_path: Path, emulator: Emulator, run: dict[str, Any], **defaults: Any) -> Path:
    document = tomllib.loads(sites_toml(emulator, None, None, str(tmp_path / "mirror")))
    document["run"] = run
    document["defaults"].update(defaults)
    path = tmp_path / "sites.toml"
    path.write_text(tomli_w.dumps(document), "utf-8")
    return path


def _run(path: Path, emulator: Emulator) -> list[Any]:
    config = load_config(path)
    coordinator = Coordinator(config, session_factory=emulator.session)
    try:
        report = coordinator.run(config.targets())
    finally:
        coordinator.close()
    assert report.ok, [str(r.error) for r in report.results]
    return report.results


def test_sweeps_that_do_not_fit_the_daily_allowance_are_deferred(tmp_path: Path) -> None:
    emulator = Emulator(load_demo_tenant())
    path = _config(
        tmp_path,
        emulator,
        {"ru_per_day": 1_000_000, "sweep_budget_share": 1.0},
        permission_sweep="never",
    )
    _run(path, emulator)  # initial syncs: no sweep recorded, estimates stored
    targets = {t.name: t for t in load_config(path).targets()}
    estimates = {
        name: _meta(t.spec.state_dir).sweep_estimates["structure"] for name, t in targets.items()
    }
    assert len(targets) >= 3 and all(e > 0 for e in estimates.values())
    # Room for about half of the sweeps: the rest must wait.
    allowance = int(sum(estimates.values()) / 2)
    text = path.read_text("utf-8").replace("ru_per_day = 1000000", f"ru_per_day = {allowance}")
    path.write_text(text.replace('"never"', '"always"'), "utf-8")
    second = _run(path, emulator)
    swept = {r.target for r in second if _meta(targets[r.target].spec.state_dir).sweeps}
    deferred = {r.target for r in second} - swept
    assert swept and deferred
    spent = sum(r.ru for name in swept for r in _meta(targets[name].spec.state_dir).sweeps)
    assert spent <= allowance
    for name in deferred:
        meta = _meta(targets[name].spec.state_dir)
        assert meta.sweep_deferred is not None and meta.sweep_deferred.kind == "structure"
        assert "sweep allowance" in meta.sweep_deferred.reason
        (result,) = [r for r in second if r.target == name]
        assert any(note.startswith("permission sweep deferred:") for note in result.counters.notes)
    # `status` says when each target was verified and when it will be next.
    shown = CliRunner().invoke(cli, ["--json", "status", "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    rows = {row["target"]: row["permissions"] for row in json.loads(shown.output)["targets"]}
    for name in swept:
        assert rows[name]["verified"] is not None and rows[name]["deferred"] is None
        assert rows[name]["next"] == "every run" and rows[name]["spent_24h"] > 0
        assert 0 < rows[name]["estimate"]["structure"] <= rows[name]["estimate"]["full"]
    for name in deferred:
        assert rows[name]["deferred"]["until"] is not None  # it fits once a day has passed
    table = CliRunner().invoke(cli, ["status", "--config", str(path)], env={"COLUMNS": "300"})
    assert "permissions verified" in table.output and "deferred" in table.output


def test_a_deferral_is_cleared_by_the_sweep_that_follows_it(tmp_path: Path) -> None:
    emulator = Emulator(load_demo_tenant())
    path = _config(tmp_path, emulator, {"ru_per_day": 1, "sweep_budget_share": 1.0})
    _run(path, emulator)
    targets = load_config(path).targets()
    text = path.read_text("utf-8").replace("[defaults]", '[defaults]\npermission_sweep = "always"')
    path.write_text(text, "utf-8")
    _run(path, emulator)
    assert all(_meta(t.spec.state_dir).sweep_deferred is not None for t in targets)
    path.write_text(text.replace("ru_per_day = 1\n", "ru_per_day = 1000000\n"), "utf-8")
    _run(path, emulator)
    for target in targets:
        meta = _meta(target.spec.state_dir)
        assert meta.sweep_deferred is None and len(meta.sweeps) == 1


def _meta(state_dir: Path) -> Any:
    meta = StateStore.read_meta(state_dir)
    assert meta is not None
    return meta


@pytest.mark.parametrize("dry", [True, False])
def test_a_dry_run_is_not_held_to_the_budget_and_records_nothing(tmp_path: Path, dry: bool) -> None:
    emulator = Emulator(load_demo_tenant())
    path = _config(tmp_path, emulator, {"ru_per_day": 1, "sweep_budget_share": 1.0})
    _run(path, emulator)
    text = path.read_text("utf-8").replace("[defaults]", '[defaults]\npermission_sweep = "always"')
    path.write_text(text, "utf-8")
    config = load_config(path)
    coordinator = Coordinator(config, session_factory=emulator.session)
    try:
        report = coordinator.run(config.targets(), dry_run=dry)
    finally:
        coordinator.close()
    assert report.ok
    for target in config.targets():
        meta = _meta(target.spec.state_dir)
        assert not meta.sweeps
        assert (meta.sweep_deferred is None) == dry


# ---------------------------------------------------------------------- the minute's share


class _FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_sweeps_draw_on_a_minutes_share_and_wait_when_it_is_spent() -> None:
    fake = _FakeTime()
    settings = BudgetSettings(ru_per_minute=1_200, ru_per_day=10**6, share=0.25)  # 5 RU/s
    budget = SweepBudget.plan(settings, [], [], now=0.0, clock=fake.clock, sleep=fake.sleep)
    assert sum(budget.pace(100) for _ in range(3)) == 0  # a minute's share is 300 RU
    assert budget.pace(100) == 20.0  # 100 RU more: 20 s at 5 RU/s
    fake.now += 60.0  # a quiet minute refills the share, never beyond it
    assert budget.pace(300) == 0 and budget.pace(5) == 1.0
    assert fake.slept == [20.0, 1.0]


def test_a_paced_sweep_spends_no_faster_than_its_share(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    add_many(world, 60)
    fake = _FakeTime()
    settings = BudgetSettings(ru_per_minute=120, ru_per_day=10**6, share=0.5)  # 1 RU/s
    budget = SweepBudget.plan(settings, [], [], now=0.0, clock=fake.clock, sleep=fake.sleep)
    never, full = PermissionPolicy("never"), PermissionPolicy("always", sweep="full")
    with world.client() as client:
        assert Syncer(world.spec(permissions=never), client).sync().ok
        result = Syncer(world.spec(permissions=full), client, budget=budget).sync()
    assert result.ok, result.error
    meta = StateStore.read_meta(world.root / ".ms365sync")
    assert meta is not None
    (record,) = meta.sweeps
    # 60 RU of burst, then 1 RU a second: the sweep's units took at least that long.
    assert sum(fake.slept) >= record.ru - 60 - 1e-6
    assert max(fake.slept) <= 20 * 5  # never more than one $batch's worth at once
    (note,) = [n for n in result.counters.notes if "permission sweep:" in n]
    assert f"paced for {sum(fake.slept):,.0f} s" in note
