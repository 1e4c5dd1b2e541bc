"""The public API: `ms365sync.__all__` is pinned, and every name in it can be imported."""

from __future__ import annotations

import importlib

import ms365sync

PUBLIC = [
    "ChangeLog",
    "CheckpointStore",
    "ConsumerError",
    "FileCheckpointStore",
    "Filters",
    "GrantEntry",
    "GrantsFile",
    "LogConsumer",
    "LogSource",
    "MetadataFile",
    "MetadataSpec",
    "PendingLog",
    "PermissionPolicy",
    "QuickXorHash",
    "SQLiteCheckpointStore",
    "SharePointSync",
    "SiteRef",
    "Stop",
    "SyncResult",
    "TargetSpec",
    "Where",
    "WhereError",
    "__version__",
    "parse_where",
    "quickxorhash",
    "sync_target",
]


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert sorted(ms365sync.__all__) == sorted(PUBLIC)


def test_every_public_name_resolves_to_its_home() -> None:
    for name in ms365sync.__all__:
        value = getattr(ms365sync, name)
        assert value is not None
        if hasattr(value, "__module__") and not isinstance(value, str):
            assert value.__module__.startswith("ms365sync."), name


def test_quickxorhash_is_the_function_even_after_its_module_is_imported() -> None:
    """The public function shares its name with the module that defines it."""
    module = importlib.import_module("ms365sync.quickxorhash")
    assert ms365sync.quickxorhash is module.quickxorhash
    assert ms365sync.quickxorhash(b"") == module.quickxorhash(b"")


def test_unknown_names_raise_attribute_error() -> None:
    try:
        ms365sync.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("ms365sync.NoSuchThing did not raise AttributeError")


def test_dir_lists_the_public_names() -> None:
    assert set(ms365sync.__all__) <= set(dir(ms365sync))
