"""examples/rag_sync_example.py end to end against the emulated demo tenant: who may find a
document, how changes reach the index, and an ingester killed part way."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ms365sync.emulator import BytesContent, Role, apply_scenario, demo_scenario_path, load_scenario
from support.demo import BEN, CHLOE, EXAMPLE, FARID, MARKETING, PRODUCT, Demo, load_example

CONTRACT = "Agency/contract-summary.txt"
JORDAN = "jordan.blake@brightline.example"


@pytest.fixture(scope="module")
def rag() -> ModuleType:
    return load_example()


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    demo = Demo.create(tmp_path)
    demo.sync()
    return demo


def ingest(rag: ModuleType, demo: Demo, db: Path, *extra: str) -> None:
    assert rag.main(["--db", str(db), "ingest", "--config", str(demo.config_path), *extra]) == 0


def found(rag: ModuleType, db: Path, query: str, user: str, **who: Any) -> set[str]:
    """The paths a search as `user` returns (targets other than marketing are prefixed)."""
    connection = rag.open_db(db)
    try:
        hits = rag.search(connection, query, rag.Principal(user, **who), limit=100)
    finally:
        connection.close()
    return {h.path if h.target == MARKETING else f"{h.target}:{h.path}" for h in hits}


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the index holds, independent of row ids."""
    connection = sqlite3.connect(db)
    queries = {
        "documents": "SELECT source, path, item_id, content, labels, grants_digest FROM documents",
        "text": "SELECT d.path, t.body FROM document_text t JOIN documents d ON d.id = t.rowid",
        "access": "SELECT d.path, a.token FROM access a JOIN documents d ON d.id = a.doc_id",
        "grants": "SELECT d.path, g.kind, g.principal_id, g.role, g.inherited FROM grants g "
        "JOIN documents d ON d.id = g.doc_id",
        "logs": "SELECT log_id FROM applied_logs",
        "checkpoints": "SELECT consumer, source, log_name FROM ms365sync_checkpoints",
    }
    try:
        return {name: sorted(connection.execute(sql)) for name, sql in queries.items()}
    finally:
        connection.close()


def test_search_shows_a_document_to_whom_it_is_granted_until_the_grant_is_removed(
    rag: ModuleType, demo: Demo, tmp_path: Path
) -> None:
    db = tmp_path / "index.db"
    ingest(rag, demo, db)
    ben, farid = demo.user_id(BEN), demo.user_id(FARID)
    visitors = f"{demo.site_id()}/sitegroups/4"
    assert found(rag, db, "Brightline retainer", ben) == {CONTRACT}
    assert found(rag, db, "Brightline retainer", farid) == set()
    assert found(rag, db, "Brightline retainer", farid, site_groups=(visitors,)) == {CONTRACT}

    tenant, drive = demo.emulator.tenant, demo.drive()
    tenant.revoke(drive, CONTRACT, f"user:{BEN}")
    demo.sync()
    ingest(rag, demo, db)
    assert found(rag, db, "Brightline retainer", ben) == set()
    assert found(rag, db, "Brightline retainer", farid, site_groups=(visitors,)) == {CONTRACT}
    # ... and the reverse: a new grant shows a document to its new reader.
    tenant.grant(drive, "Reports/web-analytics-2024.csv", f"user:{FARID}", Role.READ)
    demo.sync()
    ingest(rag, demo, db)
    assert found(rag, db, "sessions bounce_rate", farid) == {"Reports/web-analytics-2024.csv"}


def test_groups_site_groups_and_sharing_links_follow_the_documented_rules(
    rag: ModuleType, demo: Demo, tmp_path: Path
) -> None:
    db = tmp_path / "index.db"
    ingest(rag, demo, db)
    nobody, team = "00000000-0000-0000-0000-000000000000", demo.group_id("Marketing Team")
    brief = "Campaigns/2025 Spring Launch/brief.md"
    assert found(rag, db, "Atlas objective", nobody, groups=(team,)) == {brief}
    assert found(rag, db, "Atlas objective", nobody) == set()

    # Site groups: membership comes from the deployment (options or a mapping file).
    product_site = demo.site_id(PRODUCT)
    members, visitors = f"{product_site}/sitegroups/5", f"{product_site}/sitegroups/4"
    mapping = tmp_path / "site-groups.json"
    mapping.write_text(json.dumps({nobody: [members]}))
    search = [sys.executable, str(EXAMPLE), "--db", str(db), "search", "threat model"]
    for who, expected in (
        (["--site-groups-file", str(mapping)], 1),
        (["--site-group", members], 1),
        ([], 0),
    ):
        command = [*search, "--user", nobody, *who]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
        lines = done.stdout.splitlines()
        assert len(lines) == expected
        assert all(line.startswith(f"{PRODUCT}: Security/threat-model.md") for line in lines)
    # Security/ broke inheritance and dropped Visitors.
    assert found(rag, db, "threat model", nobody, site_groups=(visitors,)) == set()

    # An organization link: every member, not guests, and nobody under --links named.
    report = "Reports/Q4 2024 marketing report.pdf"
    assert found(rag, db, "Q4 marketing report", nobody) == {report}
    assert found(rag, db, "Q4 marketing report", nobody, guest=True) == set()
    assert found(rag, db, "Q4 marketing report", nobody, links="named") == set()
    # A "users" link: the people it lists, whatever the link policy.
    specs = f"{PRODUCT}:Specs/atlas-2.0-requirements.docx"
    chloe, ben = demo.user_id(CHLOE), demo.user_id(BEN)
    assert found(rag, db, "requirements", chloe, links="named", guest=True) == {specs}
    assert found(rag, db, "requirements", ben) == set()


def test_tenant_wide_grants_guests_and_group_owners_follow_the_documented_rules(
    rag: ModuleType, tmp_path: Path
) -> None:
    """all_members and everyone let in every member, never a guest; a guest is found by its
    own grant; group_owners lets in the group's owners, not its members (docs/rag.md)."""
    demo = Demo.create(tmp_path)
    tenant, drive = demo.emulator.tenant, demo.drive()
    guest = demo.user_id(JORDAN)  # the demo's guest, granted Agency/agency-contacts.json
    tenant.grant(drive, "Market Research", "everyone_except_external", Role.READ)
    tenant.grant(drive, "Reports/channel-mix.json", "everyone", Role.READ)
    tenant.grant(drive, CONTRACT, "groupowners:Marketing Team", Role.OWNER)
    demo.sync(MARKETING)
    db = tmp_path / "index.db"
    ingest(rag, demo, db, "--only", MARKETING)
    member, team = "00000000-0000-0000-0000-000000000000", demo.group_id("Marketing Team")
    research = {"Market Research/competitor-overview.md"}
    assert found(rag, db, "Plannr Series", member) == research
    assert found(rag, db, "Plannr Series", guest, guest=True) == set()
    assert found(rag, db, "LinkedIn pipeline", member) == {"Reports/channel-mix.json"}
    assert found(rag, db, "LinkedIn pipeline", guest, guest=True) == set()
    assert found(rag, db, "Jordan Blake", guest, guest=True) == {"Agency/agency-contacts.json"}
    assert found(rag, db, "Brightline retainer", member, owned_groups=(team,)) == {CONTRACT}
    assert found(rag, db, "Brightline retainer", member, groups=(team,)) == set()


def test_display_names_are_never_used_to_grant_access(
    rag: ModuleType, demo: Demo, tmp_path: Path
) -> None:
    tenant, drive = demo.emulator.tenant, demo.drive()
    namesake = tenant.add_user("Ben Carter", "ben.carter2@contoso.onmicrosoft.com")
    tenant.grant(drive, "Agency/agency-contacts.json", f"user:{namesake.email}", Role.READ)
    demo.sync()
    db = tmp_path / "index.db"
    ingest(rag, demo, db)
    labels = json.loads((demo.root() / ".permissions.json").read_text("utf-8"))
    assert "Ben Carter:::View" in labels["Agency/agency-contacts.json"]  # the same label ...
    assert found(rag, db, "Jordan Blake", namesake.id) == {"Agency/agency-contacts.json"}
    assert found(rag, db, "Jordan Blake", demo.user_id(BEN)) == set()  # ... another person


def test_edits_deletions_and_moves_update_the_index(
    rag: ModuleType, demo: Demo, tmp_path: Path
) -> None:
    db = tmp_path / "index.db"
    ingest(rag, demo, db)
    who = {"site_groups": (f"{demo.site_id()}/sitegroups/4",)}
    user = demo.user_id(FARID)
    assert found(rag, db, "Plannr Series", user, **who) == {
        "Market Research/competitor-overview.md"
    }
    tenant, drive = demo.emulator.tenant, demo.drive()
    tenant.edit_file(drive, "Market Research/competitor-overview.md", BytesContent(b"Zanzibar"))
    tenant.delete(drive, "Meeting Notes/2025-01-21 weekly sync.md")
    tenant.rename(drive, "Reports/channel-mix.json", "channel-mix-2024.json")
    demo.sync()
    ingest(rag, demo, db)
    assert found(rag, db, "Plannr Series", user, **who) == set()
    assert found(rag, db, "Zanzibar", user, **who) == {"Market Research/competitor-overview.md"}
    assert found(rag, db, "agency briefing held", user, **who) == set()
    assert found(rag, db, "LinkedIn pipeline", user, **who) == {"Reports/channel-mix-2024.json"}
    paths = {row[1] for row in dump(db)["documents"]}
    assert "Meeting Notes/2025-01-21 weekly sync.md" not in paths
    assert "Reports/channel-mix.json" not in paths


def test_text_types_are_indexed_and_others_kept_as_metadata(
    rag: ModuleType, demo: Demo, tmp_path: Path
) -> None:
    db = tmp_path / "index.db"
    ingest(rag, demo, db)
    kinds = {path: kind for _, path, _, kind, _, _ in dump(db)["documents"]}
    assert kinds["Guidelines/logo-usage.html"] == "text"
    assert kinds["Reports/web-analytics-2024.csv"] == "text"
    assert kinds["Reports/channel-mix.json"] == "text"
    assert kinds["Campaigns/2025 Spring Launch/budget.xlsx"] == "metadata"
    assert kinds["Reports/Q4 2024 marketing report.pdf"] == "metadata"
    owners = {"site_groups": (f"{demo.site_id()}/sitegroups/3",)}
    user = demo.user_id(FARID)
    html = "Guidelines/logo-usage.html"
    assert f"{'marketing/Brand Assets'}:{html}" in found(rag, db, "Minimum width", user, **owners)
    assert found(rag, db, "DOCTYPE charset", user, **owners) == set()  # markup is not text
    # Diacritics are folded: "resume" finds "Résumé".
    assert "Market Research/Résumé des entretiens clients.txt" in found(
        rag, db, "resume entretiens", user, **owners
    )


def test_a_pluggable_extractor_indexes_other_types(rag: ModuleType, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4 ...")
    assert rag.extract(pdf) == ("metadata", "")
    original = rag.extract_other
    rag.extract_other = lambda path: "extracted words" if path.suffix == ".pdf" else None
    try:
        assert rag.extract(pdf) == ("text", "extracted words")
    finally:
        rag.extract_other = original
    assert rag.extract(tmp_path / "gone.txt") == ("missing", "")


def test_the_permission_sweep_decides_when_a_silent_change_reaches_the_index(
    rag: ModuleType, tmp_path: Path
) -> None:
    # Adding a person to an existing link produces no delta entry (graph-facts §5.8): only a
    # permission sweep finds it, and no label changes, so no change log mentions it either.
    seen = {}
    for sweep in ("never", "always"):
        demo = Demo.create(tmp_path / sweep, permission_sweep=sweep)
        demo.sync(PRODUCT)
        db = tmp_path / sweep / "index.db"
        ingest(rag, demo, db)
        logs = len(demo.logs(PRODUCT))
        drive = demo.drive("product")
        specs = "Specs/atlas-2.0-requirements.docx"
        demo.emulator.tenant.add_link_recipient(drive, specs, "edit/users", BEN)
        demo.sync(PRODUCT)
        assert len(demo.logs(PRODUCT)) == logs  # no change log for it
        ingest(rag, demo, db)
        seen[sweep] = found(rag, db, "requirements", demo.user_id(BEN))
    assert seen == {"never": set(), "always": {f"{PRODUCT}:Specs/atlas-2.0-requirements.docx"}}


def test_ingesting_by_log_folder_equals_ingesting_by_configuration(
    rag: ModuleType, demo: Demo, tmp_path: Path
) -> None:
    apply_scenario(demo.emulator.tenant, load_scenario(demo_scenario_path()))
    demo.sync()
    by_config, by_folder = tmp_path / "config.db", tmp_path / "folder.db"
    ingest(rag, demo, by_config)
    folders = [str(t.spec.local_root / "sync_logs") for t in demo.config.targets()]
    assert rag.main(["--db", str(by_folder), "ingest", "--log-dir", *folders]) == 0
    assert dump(by_config) == dump(by_folder)
    only = tmp_path / "only.db"
    ingest(rag, demo, only, "--only", "product")
    assert {Path(row[0]).parent.name for row in dump(only)["documents"]} == {"product"}


def test_status_shows_what_was_applied_and_what_is_pending(
    rag: ModuleType, demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "index.db"
    assert rag.main(["--db", str(db), "status"]) == 0
    assert "nothing ingested yet" in capsys.readouterr().out
    ingest(rag, demo, db)
    apply_scenario(demo.emulator.tenant, load_scenario(demo_scenario_path()))
    demo.sync()
    capsys.readouterr()
    assert rag.main(["--db", str(db), "status"]) == 0
    lines = {line.split(":")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "1 pending" in lines[MARKETING] and "18 documents" in lines[MARKETING]
    assert "0 pending" in lines["hr/Policies"]


# ---------------------------------------------------------------------- killed ingesters

DRIVER = textwrap.dedent(
    """
    import importlib.util, os, sys
    from pathlib import Path
    from ms365sync import LogSource
    from ms365sync.config import load_config

    example, mode, at, db_path, config = sys.argv[1:6]
    spec = importlib.util.spec_from_file_location("rag_sync_example", example)
    rag = importlib.util.module_from_spec(spec)
    sys.modules["rag_sync_example"] = rag
    spec.loader.exec_module(rag)
    applied = []

    def committed(log):
        applied.append(log)
        if mode == "after-commit" and len(applied) == int(at):
            os._exit(137)  # between two logs

    if mode == "before-commit":
        original = rag.Applier.apply

        def apply(self, log, changes):
            original(self, log, changes)
            if len(applied) + 1 == int(at):
                os._exit(137)  # applied, not committed nor acknowledged

        rag.Applier.apply = apply
    targets = load_config(Path(config)).targets()
    sources = [LogSource.for_target(t.spec.local_root, name=t.name) for t in targets]
    rag.ingest(rag.open_db(Path(db_path)), sources, on_log_committed=committed)
    """
)


@pytest.mark.parametrize("mode", ["after-commit", "before-commit"])
def test_a_killed_ingester_applies_each_log_exactly_once(
    rag: ModuleType, demo: Demo, tmp_path: Path, mode: str
) -> None:
    apply_scenario(demo.emulator.tenant, load_scenario(demo_scenario_path()))
    demo.sync()
    reference = tmp_path / "reference.db"
    ingest(rag, demo, reference)
    logs = dump(reference)["logs"]
    assert len(logs) == 8

    db = tmp_path / "killed.db"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    for at in (3, 2):
        run = [sys.executable, str(driver), str(EXAMPLE), mode, str(at), str(db)]
        killed = subprocess.run(
            [*run, str(demo.config_path)], capture_output=True, text=True, timeout=120, check=False
        )
        assert killed.returncode == 137, killed.stderr
    expected = 5 if mode == "after-commit" else 3
    assert len(dump(db)["logs"]) == expected  # the killed transaction left nothing behind
    # The script itself, run to completion, applies the rest: each log once, in order.
    command = [sys.executable, str(EXAMPLE), "--db", str(db), "ingest"]
    rerun = subprocess.run(
        [*command, "--config", str(demo.config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"applied {8 - expected} change logs" in rerun.stdout
    assert dump(db) == dump(reference)


WEEKLY = ("Meeting Notes/2025-01-14 weekly sync.md", "Meeting Notes/2025-01-21 weekly sync.md")


def test_metadata_reaches_the_index_and_filters_searches(rag: ModuleType, tmp_path: Path) -> None:
    """Columns and labels reach the index from added entries and metadata-only changes;
    `--where` keeps the matching documents and `--exclude-label` drops labelled ones."""
    demo = Demo.create(tmp_path)  # its marketing library reads Status and Campaign
    tenant, drive = demo.emulator.tenant, demo.drive()
    tenant.set_columns(drive, WEEKLY[0], {"Campaign": "Weekly", "Status": "Final"})
    tenant.set_columns(drive, WEEKLY[1], {"Campaign": "Weekly", "Status": "Draft"})
    demo.sync()
    db = tmp_path / "index.db"
    ingest(rag, demo, db)
    user = demo.user_id(FARID)
    who = {"site_groups": (f"{demo.site_id()}/sitegroups/4",)}

    def search(where: str | None = None, *labels: str) -> set[str]:
        connection = rag.open_db(db)
        try:
            condition = None if where is None else rag.parse_where(where)
            hits = rag.search(connection, "weekly sync", rag.Principal(user, **who), 100,
                              where=condition, exclude_labels=labels)  # fmt: skip
        finally:
            connection.close()
        return {h.path for h in hits if h.target == MARKETING}

    everything = search()
    assert set(WEEKLY) < everything  # and other documents that mention it
    assert search("Status == 'Final' and Campaign == 'Weekly'") == {WEEKLY[0]}
    assert search("Status != 'Draft' and Campaign == 'Weekly'") == {WEEKLY[0]}
    assert search("Campaign in ['Weekly']") == set(WEEKLY)
    assert WEEKLY[0] not in search("Campaign missing")

    tenant.set_columns(drive, WEEKLY[1], {"Status": "Final"})
    tenant.set_label(drive, WEEKLY[0], "0e9f4c1a-7a53-4d1e-bf0c-1f3c86f7a2b4", "Confidential")
    demo.sync()
    ingest(rag, demo, db)
    assert search("Status == 'Final' and Campaign == 'Weekly'") == set(WEEKLY)
    assert search(None, "confidential") == everything - {WEEKLY[0]}
    assert search("sensitivity_label == 'Confidential'") == {WEEKLY[0]}


def test_the_command_line_filters_on_metadata_and_refuses_a_bad_expression(
    rag: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = Demo.create(tmp_path)
    demo.emulator.tenant.set_columns(demo.drive(), WEEKLY[1], {"Status": "Draft"})
    demo.sync()
    db = tmp_path / "index.db"
    ingest(rag, demo, db)
    group = f"{demo.site_id()}/sitegroups/4"
    base = ["--db", str(db), "search", "weekly sync", "--user", demo.user_id(FARID),
            "--site-group", group]  # fmt: skip
    assert rag.main([*base, "--where", "Status == 'Draft'"]) == 0
    printed = capsys.readouterr().out
    assert WEEKLY[1] in printed and WEEKLY[0] not in printed
    assert rag.main([*base, "--where", "Status = 'Draft'"]) == 2
    assert "--where: unknown operator '=' at column 8 (use '==')" in capsys.readouterr().err
