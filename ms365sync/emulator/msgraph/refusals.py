"""The Graph answers to downloads the tenant refuses (graph-facts §17.4-17.7, §18.5), shared by
`/content` and the pre-authenticated download URLs."""

from __future__ import annotations

from ms365sync.emulator.msgraph.exceptions import (
    LOCKED_MESSAGE,
    AccessDenied,
    GraphError,
    ItemNotFound,
    MalwareDetected,
    NotAllowed,
)
from ms365sync.emulator.tenant.quirks import Refusal


def refusal_error(refusal: Refusal) -> GraphError:
    """404 itemNotFound for a file that is gone (or a package, which has no content stream),
    403 malwareDetected, and for a co-authoring lock 423 with code accessDenied and inner
    code resourceLocked (abraunegg #36; microsoft/FluidFramework PR #13489), and for a file
    its sensitivity label encrypts 423 notAllowed (graph-facts §18.5)."""
    if refusal is Refusal.MALWARE:
        return MalwareDetected()
    if refusal is Refusal.LOCKED:
        return AccessDenied(LOCKED_MESSAGE, status=423, inner_codes=["resourceLocked"])
    if refusal is Refusal.ENCRYPTED:
        return NotAllowed()
    return ItemNotFound("Item not found")
