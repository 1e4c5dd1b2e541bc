"""The Graph answers to downloads the tenant refuses (graph-facts §17.4-17.7), shared by
`/content` and the pre-authenticated download URLs."""

from __future__ import annotations

from ms365sync.emulator.msgraph.exceptions import (
    LOCKED_MESSAGE,
    AccessDenied,
    GraphError,
    ItemNotFound,
    MalwareDetected,
)
from ms365sync.emulator.tenant.quirks import Refusal


def refusal_error(refusal: Refusal) -> GraphError:
    """404 itemNotFound for a file that is gone (or a package, which has no content stream),
    403 malwareDetected, and for a co-authoring lock 423 with code accessDenied and inner
    code resourceLocked (abraunegg #36; microsoft/FluidFramework PR #13489)."""
    if refusal is Refusal.MALWARE:
        return MalwareDetected()
    if refusal is Refusal.LOCKED:
        return AccessDenied(LOCKED_MESSAGE, status=423, inner_codes=["resourceLocked"])
    return ItemNotFound("Item not found")
