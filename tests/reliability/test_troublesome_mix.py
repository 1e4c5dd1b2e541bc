"""A library of 2,000 files of which 5 % are the troublesome items of graph-facts §17, synced
under injected faults: the run succeeds, each item is reported with the right cause, and
the next run asks nothing for the files that wait. And what waiting files cost a no-op run:
the same requests and resource units as a clean library of the same size."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ms365sync.emulator import Emulator, FaultConfig, Tenant, synthetic_tenant
from ms365sync.emulator.tenant.quirks import item_quirks
from ms365sync.graph.auth import MsalTokenProvider
from ms365sync.graph.client import GraphClient
from ms365sync.graph.cloud import GLOBAL
from ms365sync.graph.credentials import ClientSecret
from ms365sync.outputs.changelog import ChangeLog
from ms365sync.sync.syncer import Syncer
from ms365sync.target import SiteRef, TargetSpec
from support.harness import fast_gate

FILES = 2_000
FAULTS = "429=0.05,503=0.05,drop=0.05,truncate=0.05,expire-url=0.05,retry-after=0"
# 5 % of the files, one kind per file: 100 troublesome files, and two notebooks besides.
MIX: dict[str, float] = {
    "irm_share": 0.01,
    "unstable_share": 0.01,
    "missing_hash_share": 0.005,
    "empty_hash_share": 0.005,
    "malware_share": 0.01,
    "locked_share": 0.005,
    "checked_out_share": 0.005,
}
# 5 % of the files that can never be fetched: half change on every download, half are
# flagged as malware (and the notebooks' files, skipped).
UNFETCHABLE: dict[str, float] = {"unstable_share": 0.025, "malware_share": 0.025}


def _tenant(**knobs: Any) -> Tenant:
    return synthetic_tenant(
        FILES,
        folders=40,
        size_min=64,
        size_max=64,
        size_distribution="fixed",
        seed=17,
        **knobs,
    )


@dataclass
class Library:
    """The tenant's only library served in-process, a target of it, and the request log."""

    tenant: Tenant
    root: Path

    def __post_init__(self) -> None:
        self.log = self.root.parent / f"{self.root.name}-requests.jsonl"
        self.emulator = Emulator(self.tenant, request_log=self.log)
        (self.drive,) = (d for d in self.tenant.drives() if not d.system)
        self.urls: list[str] = []
        self.seen = 0  # lines of the request log counted so far

    def quirky(self) -> dict[str, str]:
        """Each troublesome file's key -> its one quirk."""
        found = {}
        for item in self.drive.items.values():
            names = [n for n in item_quirks(item) if n != "zero-byte"]
            if not item.is_folder and names:
                found[item.path] = names[0]
        for item in self.drive.items.values():
            if item.package_type is not None:  # its files are a notebook's, whatever else
                found.update((f.path, "package") for f in item.walk() if not f.is_folder)
        return found

    def run(self, **overrides: Any) -> ChangeLog:
        session = self.emulator.session()
        session.hooks["response"].append(self._hook)
        creds = self.emulator.credentials
        provider = MsalTokenProvider(
            tenant_id=creds.tenant_id,
            client_id=creds.client_id,
            credential=ClientSecret(creds.client_secret),
            cloud=GLOBAL,
            http_client=session,
        )
        site = self.drive.site
        spec = TargetSpec(
            name="synthetic/Documents",
            site=SiteRef(host=site.hostname, path=site.path),
            library=self.drive.title,
            local_root=self.root,
            **overrides,
        )
        client = GraphClient(GLOBAL.graph_url, provider, session=session, gate=fast_gate())
        with client:
            result = Syncer(spec, client).sync()
        assert result.ok, result.error
        assert result.log is not None
        return result.log

    def _hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.urls.append(response.url)

    def spent(self) -> tuple[int, int]:
        """Requests and resource units the service answered since the last call."""
        lines = [json.loads(line) for line in self.log.read_text().splitlines()]  # line-buffered
        new, self.seen = lines[self.seen :], len(lines)
        return len(new), sum(line["resource_units"] for line in new)

    def close(self) -> None:
        if self.emulator.app.request_log is not None:
            self.emulator.app.request_log.close()

    def fetches(self, path: str) -> int:
        item = self.tenant.item(self.drive, path)
        marks = (f"UniqueId={str(item.guid).lower()}&", f"/items/{item.id}/content")
        return sum(1 for url in self.urls if any(m in url for m in marks))


def test_a_mixed_library_of_2000_files_under_faults(tmp_path: Path) -> None:
    library = Library(_tenant(packages=2, **MIX), tmp_path / "mixed")
    try:
        _mixed(library)
    finally:
        library.close()


def _mixed(library: Library) -> None:
    quirky = library.quirky()
    kinds = Counter(quirky.values())
    assert sum(n for kind, n in kinds.items() if kind != "package") == FILES * 5 // 100
    library.emulator.app.faults.configure(FaultConfig.parse(FAULTS))
    first = library.run()
    assert library.emulator.app.faults.stats()  # the faults did happen
    added, errors, skipped = first.changes.added, first.errors, first.skipped
    for path, kind in quirky.items():
        if kind == "rewritten":
            assert added[path].verification == "mismatch-accepted", path
        elif kind in ("missing-hash", "empty-hash"):
            assert added[path].verification == "size-only", path
        elif kind == "checked-out":
            assert path in added and added[path].verification is None, path
        elif kind == "unstable":
            assert (errors[path].kind, errors[path].cause) == ("permanent", "content-unstable")
        elif kind == "locked":
            assert (errors[path].kind, errors[path].cause) == ("transient", "locked")
        elif kind == "malware":
            assert skipped[path].cause == "malware", path
        else:
            assert (kind, skipped[path].cause) == ("package", "package"), path
    assert first.summary.mismatch_accepted_count == kinds["rewritten"]
    assert first.summary.skipped_count == kinds["malware"] + kinds["package"]
    # Nothing else failed for good; what the faults broke is tried again, reported as such.
    unexpected = {p: e for p, e in errors.items() if p not in quirky}
    assert all(e.kind == "transient" for e in unexpected.values()), unexpected
    library.urls.clear()
    second = library.run()
    waiting = [p for p, k in quirky.items() if k in ("unstable", "malware", "package")]
    assert [p for p in waiting if library.fetches(p)] == []  # not one request for them
    assert not second.skipped  # each skip was reported once
    assert {p for p, e in second.errors.items() if e.kind == "permanent"} == set()
    assert {e.cause for e in second.errors.values()} <= {"locked", "other", "gave-up"}


def test_files_that_wait_cost_a_no_op_run_nothing(tmp_path: Path) -> None:
    """The no-op run of a library where 5 % of the files can never be fetched makes the
    same requests and spends the same resource units as over a clean library."""
    costs = {}
    for name, knobs in (("clean", {}), ("unfetchable", {"packages": 2, **UNFETCHABLE})):
        library = Library(_tenant(**knobs), tmp_path / name)
        try:
            first = library.run()
            if knobs:
                assert len(first.errors) + len(first.skipped) == FILES * 5 // 100 + 6
            library.run()  # the files that failed for good now wait
            library.spent()
            last = library.run()
            assert not last.has_changes and not last.errors and not last.skipped
            costs[name] = library.spent()
        finally:
            library.close()
    assert costs["unfetchable"] == costs["clean"], costs
