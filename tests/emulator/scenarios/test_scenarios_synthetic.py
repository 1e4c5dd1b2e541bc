"""Synthetic tenants: shape, determinism, size distributions, sharing, and the memory bound."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from collections import Counter
from typing import Any

import pytest

from ms365sync.emulator.scenarios.synthetic import (
    Membership,
    SizeDistribution,
    synthetic_label_id,
    synthetic_tenant,
)
from ms365sync.emulator.tenant.content import GeneratedContent
from ms365sync.emulator.tenant.model import GroupKind, Item, PrincipalKind, Role
from ms365sync.emulator.tenant.tenant import Tenant

NOW = 1_700_000_000.0


def all_files(tenant: Tenant) -> list[Item]:
    return [item for drive in tenant.drives() for item in drive.files()]


def fingerprint(tenant: Tenant) -> list[tuple[str, str, str, int, str, object]]:
    rows = []
    for drive in tenant.drives():
        for item in drive.root.walk():
            content = item.content
            head = content.read_all()[:64].hex() if content is not None else ""
            grants = sorted(
                (k.value, ref, role.value) for (k, ref), role in (item.grants or {}).items()
            )
            rows.append((drive.id, item.id, item.path, item.size, head, grants))
    return rows


def test_counts_and_layout() -> None:
    tenant = synthetic_tenant(
        1001, folders=30, depth=2, sites=2, libraries=2, clock=lambda: NOW, size_max=4096
    )
    assert len(tenant.sites) == 2
    paths = sorted(site.path for site in tenant.sites.values())
    assert paths == ["/sites/synthetic-01", "/teams/synthetic-02"]
    drives = tenant.drives()
    assert len(drives) == 4
    assert {(d.title, d.url_segment) for d in drives} == {
        ("Documents", "Shared Documents"),
        ("Library 2", "Library 2"),
    }
    per_drive = [len(list(d.files())) for d in drives]
    assert sum(per_drive) == 1001 and max(per_drive) - min(per_drive) <= 1
    for drive in drives:
        folders = [i for i in drive.root.walk() if i.is_folder and not i.is_root]
        assert len(folders) == 30
        assert max(i.path.count("/") + 1 for i in folders) <= 2
    assert tenant.strict_names  # switched back on after building
    assert any(app.display_name == "ms365sync-synthetic" for app in tenant.directory.apps.values())


def test_default_folder_count_and_no_folders() -> None:
    tenant = synthetic_tenant(500, clock=lambda: NOW, size_max=2048)
    (drive,) = tenant.drives()
    assert sum(1 for i in drive.root.walk() if i.is_folder and not i.is_root) == 10
    flat = synthetic_tenant(50, folders=0, clock=lambda: NOW, size_max=2048)
    (flat_drive,) = flat.drives()
    assert all(item.parent is flat_drive.root for item in flat_drive.files())


def test_deterministic_from_the_seed() -> None:
    first = synthetic_tenant(300, unique_share=0.2, seed=7, clock=lambda: NOW, size_max=8192)
    second = synthetic_tenant(300, unique_share=0.2, seed=7, clock=lambda: NOW, size_max=8192)
    other = synthetic_tenant(300, unique_share=0.2, seed=8, clock=lambda: NOW, size_max=8192)
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(first) != fingerprint(other)
    assert [a.secrets for a in first.directory.apps.values()] == [
        a.secrets for a in second.directory.apps.values()
    ]


@pytest.mark.parametrize("distribution", ["log-uniform", "uniform"])
def test_sizes_stay_in_bounds(distribution: SizeDistribution) -> None:
    tenant = synthetic_tenant(
        400, size_min=100, size_max=50_000, size_distribution=distribution, clock=lambda: NOW
    )
    sizes = [item.size for item in all_files(tenant)]
    assert min(sizes) >= 100 and max(sizes) <= 50_000
    assert len(set(sizes)) > 300
    small = sum(1 for size in sizes if size < 5000)
    # log-uniform puts about half the files below the geometric midpoint (~2.2 kB); uniform ~9%.
    if distribution == "log-uniform":
        assert small > 150
    else:
        assert small < 100


def test_fixed_sizes() -> None:
    tenant = synthetic_tenant(50, size_min=777, size_max=777, size_distribution="fixed")
    assert {item.size for item in all_files(tenant)} == {777}


def test_content_is_lazy_and_typed() -> None:
    tenant = synthetic_tenant(200, clock=lambda: NOW, size_max=4096)
    for item in all_files(tenant):
        assert isinstance(item.content, GeneratedContent)
        data = item.content.read_all()
        assert len(data) == item.size
        if item.name.endswith((".txt", ".md", ".csv", ".json", ".log")):
            assert data.isascii()


@pytest.mark.parametrize("seed", [1977, 7, 42])
def test_text_like_content_has_exactly_its_size(seed: int) -> None:
    # Seed 1977 once produced a 99-byte first block for size 100, and reading it yielded
    # empty chunks forever; islice keeps such a regression a failure rather than a hang.
    for size in (1, 100, 65_536, 65_537):
        chunks = itertools.islice(GeneratedContent(seed, size, text=True).iter_range(0, size), 100)
        assert sum(len(chunk) for chunk in chunks) == size


def test_unique_permissions_share() -> None:
    tenant = synthetic_tenant(2000, unique_share=0.1, clock=lambda: NOW, size_max=2048)
    items = [i for d in tenant.drives() for i in d.root.walk() if not i.is_root]
    unique = [i for i in items if i.grants is not None]
    assert 100 <= len(unique) <= 300
    kinds = {kind for item in unique for kind, _ in (item.grants or {})}
    assert {PrincipalKind.USER, PrincipalKind.GROUP, PrincipalKind.LINK} <= kinds
    (drive,) = tenant.drives()
    scopes = {link.scope for link in drive.links.values()}
    assert scopes == {"organization", "anonymous", "users"}
    none = synthetic_tenant(500, unique_share=0.0, clock=lambda: NOW, size_max=2048)
    assert all(i.grants is None for d in none.drives() for i in d.root.walk() if not i.is_root)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"files": -1},
        {"files": 1, "sites": 0},
        {"files": 1, "libraries": 0},
        {"files": 1, "depth": 0},
        {"files": 1, "folders": -2},
        {"files": 1, "size_min": 10, "size_max": 5},
        {"files": 1, "size_distribution": "normal"},
        {"files": 1, "unique_share": 1.5},
    ],
)
def test_impossible_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        synthetic_tenant(**kwargs)


MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from ms365sync.emulator.scenarios.synthetic import SizeDistribution, synthetic_tenant
    tenant = synthetic_tenant(100_000, unique_share=0.01, size_max=10 * 1024 * 1024, seed=3)
    files = sum(1 for drive in tenant.drives() for _ in drive.files())
    declared = sum(item.size for drive in tenant.drives() for item in drive.files())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak_bytes = peak if sys.platform == "darwin" else peak * 1024
    print(json.dumps({"files": files, "declared": declared, "peak": peak_bytes}))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="resource is POSIX-only")
def test_a_hundred_thousand_files_stay_well_under_a_gigabyte() -> None:
    # A fresh interpreter, so the peak belongs to this build alone.
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert result["files"] == 100_000
    assert result["declared"] > 10 * 1024**3  # the bytes are promised, not held
    assert result["peak"] < 400 * 1024**2


# ------------------------------------------------------------------ memberships


def memberships(tenant: Tenant) -> list[tuple[str, list[str], list[str]]]:
    return sorted((g.id, list(g.members), list(g.owners)) for g in tenant.groups.values())


def test_the_default_directory() -> None:
    tenant = synthetic_tenant(20, sites=2, clock=lambda: NOW, size_max=1024)
    assert len(tenant.users) == 8 and len(tenant.groups) == 3
    assert all(not g.members and g.kind is GroupKind.SECURITY for g in tenant.groups.values())
    app = next(iter(tenant.directory.apps.values()))
    assert {"GroupMember.Read.All", "User.Read.All"} <= set(app.roles)
    for site in tenant.sites.values():
        assert site.groups[Role.OWNER].members and site.groups[Role.WRITE].members


@pytest.fixture(scope="module")
def crowded() -> Tenant:
    """200 groups of up to 2,000 members, a quarter Microsoft 365 groups, nesting, guests."""
    shape = Membership(
        users=2100,
        guests=40,
        groups=200,
        group_size_min=10,
        group_size_max=2000,
        microsoft365_share=0.25,
        nested_share=0.3,
    )
    return synthetic_tenant(200, sites=4, seed=9, clock=lambda: NOW, membership=shape)


def test_two_hundred_groups_of_up_to_two_thousand_members(crowded: Tenant) -> None:
    groups = list(crowded.groups.values())
    assert len(groups) == 200 and len(crowded.users) == 2140
    assert [g.display_name for g in groups[:2]] == ["Team 001", "Team 002"]
    people = [sum(1 for m in g.members if m in crowded.users) for g in groups]
    assert min(people) >= 10 and max(people) <= 2000 and max(people) > 1800
    assert sum(people) > 150_000
    unified = [g for g in groups if g.kind is GroupKind.MICROSOFT_365]
    assert 20 < len(unified) < 80
    for group in unified:
        assert all(m in crowded.users for m in group.members)  # users only
        assert 1 <= len(group.owners) <= 2
    nesting = [g for g in groups if any(m in crowded.groups for m in g.members)]
    assert nesting and all(g.kind is GroupKind.SECURITY for g in nesting)
    assert any(user.is_guest for user in crowded.users.values())
    connected = [s for s in crowded.sites.values() if s.group_id is not None]
    assert sorted(s.path for s in connected) == ["/teams/synthetic-02", "/teams/synthetic-04"]


def test_nested_groups_never_form_a_cycle(crowded: Tenant) -> None:
    order = {group.id: index for index, group in enumerate(crowded.groups.values())}
    for group in crowded.groups.values():
        for member in group.members:
            if member in crowded.groups:
                assert order[member] < order[group.id]


def test_memberships_are_deterministic_and_leave_files_alone() -> None:
    shape = Membership(users=60, guests=5, groups=12, group_size_max=50, nested_share=0.5)
    first = synthetic_tenant(300, seed=4, clock=lambda: NOW, size_max=2048, membership=shape)
    second = synthetic_tenant(300, seed=4, clock=lambda: NOW, size_max=2048, membership=shape)
    assert memberships(first) == memberships(second)
    plain = synthetic_tenant(300, seed=4, clock=lambda: NOW, size_max=2048)
    # Every site, library, file, folder and grant is the same with or without the knobs.
    assert sorted(first.sites) == sorted(plain.sites)
    assert fingerprint(first) == fingerprint(plain)


@pytest.mark.parametrize(
    "shape",
    [
        Membership(users=0),
        Membership(guests=-1),
        Membership(groups=-1),
        Membership(group_size_min=5, group_size_max=1),
        Membership(microsoft365_share=2.0),
        Membership(nested_share=-0.1),
    ],
)
def test_impossible_memberships(shape: Membership) -> None:
    with pytest.raises(ValueError):
        synthetic_tenant(1, membership=shape)


COLUMNS = {"Department": ["Finance", "Sales", "Legal"], "Reviewed": [True, False]}


def test_columns_give_every_file_a_value_of_each_and_change_nothing_else() -> None:
    plain = synthetic_tenant(60, sites=2, seed=21)
    tenant = synthetic_tenant(60, sites=2, seed=21, columns=COLUMNS)
    again = synthetic_tenant(60, sites=2, seed=21, columns=COLUMNS)
    files = [i for d in tenant.drives() for i in d.root.walk() if not i.is_folder]
    assert files and all(set(item.columns) == set(COLUMNS) for item in files)
    assert all(item.columns[name] in values for item in files for name, values in COLUMNS.items())
    assert {item.columns["Department"] for item in files} == set(COLUMNS["Department"])
    folders = [i for d in tenant.drives() for i in d.root.walk() if i.is_folder]
    assert all(not folder.columns for folder in folders)

    def ids(t: Tenant) -> list[tuple[str, int]]:
        return [(i.id, i.etag_v) for d in t.drives() for i in d.root.walk()]

    assert ids(tenant) == ids(plain)  # the columns draw from a stream of their own
    assert [i.columns for d in again.drives() for i in d.root.walk()] == [
        i.columns for d in tenant.drives() for i in d.root.walk()
    ]
    with pytest.raises(ValueError, match="none for 'Status'"):
        synthetic_tenant(5, columns={"Status": []})


LABELS = {"General": 0.5, "Confidential": 0.2, "Highly Confidential": 0.1}


def test_labels_give_shares_of_the_files_a_label_and_change_nothing_else() -> None:
    plain = synthetic_tenant(60, sites=2, seed=21, columns=COLUMNS)
    tenant = synthetic_tenant(
        60, sites=2, seed=21, columns=COLUMNS, labels=LABELS,
        encrypted_labels=["Highly Confidential"],
    )  # fmt: skip
    files = [i for d in tenant.drives() for i in d.files()]
    got = Counter(item.label.name for item in files if item.label is not None)
    assert got == {"General": 30, "Confidential": 12, "Highly Confidential": 6}
    for item in files:
        if item.label is not None:
            assert item.label.id == synthetic_label_id(item.label.name or "")
            assert item.label.encrypted == (item.label.name == "Highly Confidential")

    def state(t: Tenant) -> list[tuple[str, int, int, object]]:
        return [(i.id, i.etag_v, i.ctag_v, i.columns) for d in t.drives() for i in d.root.walk()]

    assert state(tenant) == state(plain)  # the labels draw from a stream of their own
    again = synthetic_tenant(60, sites=2, seed=21, columns=COLUMNS, labels=LABELS)
    assert [i.label and i.label.name for d in again.drives() for i in d.files()] == [
        i.label and i.label.name for i in files
    ]
    assert all(i.label is None for d in plain.drives() for i in d.root.walk())


@pytest.mark.parametrize(
    ("labels", "encrypted", "message"),
    [
        ({"General": 1.5}, (), "the share of 'General' must be between 0 and 1"),
        ({"A": 0.6, "B": 0.6}, (), "the shares add up to 1.2"),
        ({"A": 0.1}, ("B",), "encrypted_labels: 'B' is not one of the labels"),
    ],
)
def test_impossible_labels(
    labels: dict[str, float], encrypted: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        synthetic_tenant(5, labels=labels, encrypted_labels=encrypted)
