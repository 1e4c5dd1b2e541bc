"""What a scenario or tenant-file change runs against (a tenant, or the copy a scenario is
rehearsed on) and where in its file it came from, so every failure names the key that caused it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.scenarios.changespec import LibraryChange
from ms365sync.emulator.scenarios.filespec import ItemAddress
from ms365sync.emulator.tenant.model import Drive, Item, Site
from ms365sync.emulator.tenant.tenant import Tenant


@dataclass(frozen=True)
class Where:
    """Where a change came from in its file: a label and, optionally, how its keys are named there.

    A scenario change is simply "change[3]"; a tenant file spreads one change over several
    keys, e.g. a grant's principal lives at "...permissions[2].grants[0].principal".
    """

    label: str
    keys: Mapping[str, str] = field(default_factory=dict)

    def at(self, key: str) -> str:
        base, bracket, rest = key.partition("[")
        mapped = self.keys.get(base, base) + bracket + rest
        return f"{self.label}.{mapped}" if mapped else self.label


class ChangeError(Exception):
    """A change that cannot apply, with the input location to blame (e.g. change[3].path)."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


@dataclass(frozen=True)
class Defaults:
    """The file-wide `site` and `library` a change uses when it names none."""

    site: str | None = None
    library: str | None = None


@dataclass(frozen=True)
class Context:
    """One change being run: its target, its place in the file and the file's defaults."""

    target: Tenant
    where: Where
    defaults: Defaults = Defaults()

    @contextmanager
    def at(self, key: str) -> Iterator[None]:
        """Blame any InputError raised inside on `key`."""
        try:
            yield
        except InputError as exc:
            raise ChangeError(self.where.at(key), str(exc)) from exc

    def site(self, ref: str | None) -> Site:
        ref = ref or self.defaults.site
        with self.at("site"):
            if ref is not None:
                return find_site(self.target, ref)
            if len(self.target.sites) == 1:
                return next(iter(self.target.sites.values()))
            raise InputError("no site given: set site here or at the top of the file")

    def drive(self, change: LibraryChange) -> Drive:
        site = self.site(change.site)
        name = change.library or self.defaults.library
        with self.at("library"):
            if name is not None:
                return self.target.library(_site_ref(self.target, site), name)
            if len(site.drives) == 1:
                return next(iter(site.drives.values()))
            raise InputError("no library given: set library here or at the top of the file")

    def item(self, drive: Drive, address: ItemAddress) -> Item:
        with self.at(address.address_key):
            return self.target.item(drive, address.target)


def describe(drive: Drive, text: str) -> str:
    """One human line about a change, prefixed with the site and library it happened in."""
    return f"{drive.site.name}/{drive.url_segment}: {text}"


def _site_ref(target: Tenant, site: Site) -> str:
    """The site's path when that is unambiguous (it reads better in messages), else its id."""
    same_path = [other for other in target.sites.values() if other.path == site.path]
    return site.path if len(same_path) == 1 else site.id


def find_site(target: Tenant, ref: str) -> Site:
    """A site by URL leaf, server-relative path, host+path, display name or id (any case)."""
    lowered = ref.lower().rstrip("/")
    for site in target.sites.values():
        names = (site.name, site.path, site.hostname + site.path, site.display_name, site.id)
        if lowered in (name.lower() for name in names):
            return site
    known = ", ".join(sorted(site.name for site in target.sites.values())) or "none"
    raise InputError(f"unknown site {ref!r}; known: {known}")
