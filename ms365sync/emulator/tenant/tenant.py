"""The emulated tenant: directory, sites and libraries, and every mutation tests, scenarios
and the control API apply to them.

All reads and writes go through `Tenant.lock`. Each mutation stamps the items it touches
with new journal numbers so that delta reports it, with the SharePoint quirks the Graph
facts document: ancestors are re-sent by delta, not stamped here; a metadata change bumps
the eTag only, a content change both eTag and cTag; a permission change is a separate kind
of journal entry that only callers asking for sharing changes see; and, while
`realistic_gaps` is on, the known gaps of the sharing feed (graph-facts §5.8) are reproduced.

The class is assembled from its parts: state and lookups (base.py), item mutations
(items.py), columns, their values and sensitivity labels (metadata.py), the troublesome
items of graph-facts §17 (quirks.py), permission mutations
(sharing.py), memberships (membership.py), and here the library and access changes.
"""

from __future__ import annotations

import copy
import threading

from ms365sync.emulator.tenant.base import MutationError, PathLike, split_path
from ms365sync.emulator.tenant.membership import MembershipMutations
from ms365sync.emulator.tenant.metadata import MetadataMutations
from ms365sync.emulator.tenant.model import Drive, Site
from ms365sync.emulator.tenant.quirks import QuirkMutations
from ms365sync.emulator.tenant.sharing import SharingMutations

__all__ = ["MutationError", "PathLike", "Tenant", "split_path"]


class Tenant(MetadataMutations, QuirkMutations, SharingMutations, MembershipMutations):
    """A whole emulated tenant, deterministic from `seed`."""

    def rehearsal_copy(self) -> Tenant:
        """A deep copy to try changes on: the same state and the same id sequence (so the copy
        draws the ids the tenant would), its own lock, the same clock; contents are shared, as
        they are immutable. Call it under `self.lock`."""
        shared: dict[int, object] = {id(self.lock): threading.RLock(), id(self.clock): self.clock}
        twin = copy.deepcopy(self, shared)
        # The copy has the tenant's state and its class's rules, not methods replaced on this
        # instance (tests replace them to make only the real application fail).
        for name in [name for name in vars(twin) if callable(getattr(Tenant, name, None))]:
            delattr(twin, name)
        return twin

    # ----------------------------------------------------------------- libraries and access

    def rename_library(self, drive: Drive, new_title: str) -> None:
        """Change a library's title; its id and URL (webUrl) stay."""
        with self.lock:
            drive.title = new_title
            drive.modified = self.now()

    def expire_delta_tokens(self, drive: Drive) -> None:
        """Every delta token issued so far for this library (nextLinks and deltaLinks) answers
        410 from now on; tokens issued afterwards work."""
        with self.lock:
            drive.journal.epoch += 1

    def request_resync(self, drive: Drive) -> None:
        """The next delta request on this library that carries a token (a nextLink or a
        deltaLink page) answers 410 resyncRequired; a fresh enumeration is never refused."""
        with self.lock:
            drive.resync_pending = True

    def set_site_access(self, client_id: str, site: Site, *, allowed: bool) -> None:
        """Revoke or restore an app's access to a site (Graph then answers 403)."""
        with self.lock:
            app = self.directory.apps[client_id]
            if allowed:
                app.blocked_sites.discard(site.id)
            else:
                app.blocked_sites.add(site.id)

    def delete_library(self, drive: Drive) -> None:
        """Remove a library entirely (its id then answers 404)."""
        with self.lock:
            del drive.site.drives[drive.id]
            del self._drives[drive.id]
