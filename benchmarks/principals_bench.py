"""What a principals snapshot of a large directory costs: requests, resource units and time.

Run::

    python -m benchmarks.principals_bench            # 200 groups of 10..2,000 members
    python -m benchmarks.principals_bench --quick    # 20 groups of 10..200 (seconds)

A synthetic tenant with `--groups` Entra groups (a fifth of them Microsoft 365 groups with
owners, a fifth of the security groups nesting earlier ones) is served in-process; the
snapshot is built as a run builds it (`principals.snapshot.build`) for every group, every
Microsoft 365 group's owners and every site group, with a certificate credential so that
site groups are read through SharePoint REST. The emulator's request log gives the number
of requests and the resource units charged, by kind; the wall time includes the emulator's
own work on the same two cores, so it is an upper bound.
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from ms365sync.emulator import Emulator, GroupKind, Membership, synthetic_tenant
from ms365sync.emulator.login.keys import make_app_certificate
from ms365sync.graph.cloud import GLOBAL
from ms365sync.graph.connect import connect
from ms365sync.graph.credentials import AppCredentials, ClientCertificate
from ms365sync.principals.directory import Directory
from ms365sync.principals.sharepoint import SiteGroupReader
from ms365sync.principals.snapshot import Wanted, build

RESULTS = Path(__file__).resolve().parent / "results" / "principals.json"


def measure(groups: int, size_max: int, workdir: Path) -> dict[str, object]:
    """Build one snapshot of every principal of a synthetic directory; its costs."""
    membership = Membership(
        users=max(2 * size_max, 100),
        guests=20,
        groups=groups,
        group_size_min=10,
        group_size_max=size_max,
        microsoft365_share=0.2,
        nested_share=0.2,
    )
    tenant = synthetic_tenant(20, sites=2, membership=membership, seed=14)
    log = workdir / "requests.jsonl"
    emulator = Emulator(tenant, request_log=log)
    certificate = make_app_certificate(emulator.registration.display_name)
    emulator.registration.certificates.append(certificate.cert_pem)
    pem = workdir / "app.pem"
    pem.write_bytes(certificate.key_pem + certificate.cert_pem)
    creds = emulator.credentials
    app = AppCredentials(creds.tenant_id, creds.client_id, ClientCertificate(pem))
    client = connect(app, GLOBAL, session_factory=emulator.session)
    reader = SiteGroupReader(app, GLOBAL, session_factory=emulator.session, gate=client.gate)
    want = Wanted(
        groups=set(tenant.groups),
        group_owners={g.id for g in tenant.groups.values() if g.kind is GroupKind.MICROSOFT_365},
        site_groups={
            f"{site.id}/sitegroups/{group.id}"
            for site in tenant.sites.values()
            for group in site.groups.values()
        },
    )
    started = time.perf_counter()
    snapshot = build(
        creds.tenant_id,
        want,
        directory=Directory(client),
        site_groups=reader,
        site_url=lambda site_id: client.get_site(site_id).web_url or "",
        now=datetime.datetime.now(datetime.timezone.utc),
    )
    seconds = time.perf_counter() - started
    reader.close()
    client.close()
    requests: Counter[str] = Counter()
    units: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        path = str(entry.get("path", ""))
        if "/_api/" in path:
            name = "sharepoint rest"
        elif "/oauth2/" in path or "/.well-known/" in path:
            name = "sign-in"
        else:
            name = "graph " + (path.split("/")[2:3] or ["?"])[0]
        requests[name] += 1
        units[name] += int(entry.get("resource_units", 0))
    memberships = sum(len(g.members or []) for g in snapshot.groups.values())
    return {
        "groups": len(snapshot.groups),
        "site_groups": len(snapshot.site_groups),
        "users": len(snapshot.users),
        "group_memberships": memberships,
        "unexpanded": len(snapshot.unexpanded),
        "seconds": round(seconds, 2),
        "requests": dict(requests),
        "resource_units": dict(units),
        "total_requests": sum(requests.values()),
        "total_resource_units": sum(units.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 groups of 10..200 members")
    args = parser.parse_args(argv)
    groups, size_max = (20, 200) if args.quick else (200, 2000)
    with tempfile.TemporaryDirectory() as work:
        result = measure(groups, size_max, Path(work))
    print(json.dumps(result, indent=2))
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["unexpanded"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
