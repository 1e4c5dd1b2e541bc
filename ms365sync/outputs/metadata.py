"""`.metadata.json`: each mirrored file's document metadata (issue 21), by path.

One member per mirrored file whose metadata the target reads (`metadata` in sites.toml),
sorted by path like `.permissions.json`: its item id, content type, the people who created
and last modified it, its sensitivity label, and its columns (`fields`: internal name ->
value, in the shape SharePoint gives it). Written by `sync.publish` after each run that
changed it; `sync.metadata` makes the documents.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

__all__ = ["MetadataFile", "MetadataFileEntry", "SensitivityLabel"]


class SensitivityLabel(BaseModel):
    """A file's sensitivity label as its list item carries it (graph-facts §18.3)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, description="The label's id (_IpLabelId).")
    name: str | None = Field(default=None, description="Its name (the Sensitivity column).")


class MetadataFileEntry(BaseModel):
    """One mirrored file in `.metadata.json` (keys without a value are left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str
    content_type: str | None = Field(default=None, description='e.g. "Document".')
    created_by: str | None = Field(default=None, description="Who created it (display name).")
    modified_by: str | None = Field(default=None, description="Who last modified it.")
    sensitivity_label: SensitivityLabel | None = None
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="The columns read: internal name -> value as SharePoint gives it "
        "(text, number, boolean, ISO 8601 date, array, lookup or taxonomy object).",
    )


class MetadataFile(RootModel[dict[str, MetadataFileEntry]]):
    """`.metadata.json`: each mirrored file's document metadata, by path."""
