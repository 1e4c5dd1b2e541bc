"""The emulated tenant's state: its content model, the `Tenant` and its mutations, file
contents, permissions as SharePoint reports them, identifiers and the emulator's clock."""

from __future__ import annotations

from ms365sync.emulator.tenant.tenant import MutationError, PathLike, Tenant, split_path

__all__ = ["MutationError", "PathLike", "Tenant", "split_path"]
