"""The exception tree: exit codes, one-line messages with what a user needs, no secrets."""

from __future__ import annotations

import errno

import pytest

from ms365sync.errors import (
    AccessDeniedError,
    AuthError,
    ConfigError,
    DeltaExpiredError,
    DownloadError,
    GraphError,
    InvalidTokenError,
    LocalStorageError,
    LockError,
    MS365SyncError,
    NotFoundError,
    Redacted,
    ResolutionError,
    SafetyError,
    StateError,
    ThrottledError,
    TransportError,
    redact,
)

SIGNED = (
    "https://contoso.sharepoint.com/sites/x/_layouts/15/download.aspx?UniqueId=6ca0db30"
    "&Translate=false&tempauth=v1.eyJzZWNyZXQiOiJ5ZXMifQ.c2lnbmF0dXJl&ApiVersion=2.0"
)


def test_every_error_is_an_ms365sync_error() -> None:
    for error_type in (
        ConfigError,
        AuthError,
        GraphError,
        TransportError,
        DownloadError,
        LocalStorageError,
        StateError,
        SafetyError,
        LockError,
        ResolutionError,
    ):
        assert issubclass(error_type, MS365SyncError)
    for graph_type in (
        ThrottledError,
        NotFoundError,
        AccessDeniedError,
        DeltaExpiredError,
        InvalidTokenError,
    ):
        assert issubclass(graph_type, GraphError)


def test_exit_codes() -> None:
    assert MS365SyncError("x").exit_code == 1
    assert ConfigError("x").exit_code == 2
    assert AuthError("x").exit_code == 3
    assert GraphError("x").exit_code == 1


def test_config_error_names_file_key_and_expectation() -> None:
    error = ConfigError(
        "must be positive",
        file="sites.toml",
        key="targets[1].max_delete",
        expected="an integer > 0",
    )
    assert (
        str(error)
        == "sites.toml: targets[1].max_delete: must be positive (expected an integer > 0)"
    )
    assert error.key == "targets[1].max_delete"


def test_auth_error_carries_aadsts_code_and_never_the_secret() -> None:
    error = AuthError(
        "Invalid client secret provided. client_secret=hunter2-value",
        aadsts=7000215,
        error="invalid_client",
        authority="https://login.microsoftonline.com/contoso",
    )
    text = str(error)
    assert text.startswith(
        "authentication failed [AADSTS7000215 invalid_client]: Invalid client secret"
    )
    assert "hunter2-value" not in text
    assert error.aadsts == 7000215
    assert not error.retryable


def test_graph_error_one_line_with_request_id_and_redacted_url() -> None:
    error = NotFoundError(
        "Item not found\r\nmore text",
        status=404,
        code="itemNotFound",
        request_id="rid-1",
        method="GET",
        url=SIGNED,
    )
    text = str(error)
    assert "\n" not in text
    assert "v1.eyJ" not in text
    assert "tempauth=<redacted>" in text
    assert text.startswith("Graph 404 itemNotFound: Item not found more text [GET https://contoso")
    assert text.endswith("; request-id rid-1]")
    assert error.url is not None
    assert "v1.eyJ" not in error.url
    assert not error.retryable


def test_graph_error_code_chain_is_case_insensitive() -> None:
    error = ThrottledError(
        "throttled",
        status=429,
        code="activityLimitReached",
        inner_codes=("throttledRequest", "quota"),
        retry_after=28,
    )
    assert error.codes == ("activityLimitReached", "throttledRequest", "quota")
    assert error.has_code("THROTTLEDREQUEST")
    assert not error.has_code("itemNotFound")
    assert error.retryable
    assert error.retry_after == 28
    assert error.hint


def test_subclass_hints() -> None:
    assert DeltaExpiredError("gone", status=410).hint
    assert AccessDeniedError("no", status=403).hint
    assert InvalidTokenError("expired", status=401).hint
    assert GraphError("x", retryable=True).retryable


def test_transport_error_kinds() -> None:
    drop = TransportError("ConnectionError: reset", kind="connection", method="GET", url=SIGNED)
    assert drop.retryable
    assert "v1.eyJ" not in str(drop)
    tls = TransportError("certificate verify failed", kind="tls", retryable=False)
    assert not tls.retryable
    assert tls.hint is not None
    assert "CA bundle" in tls.hint


def test_download_error_states_expected_and_actual() -> None:
    error = DownloadError(
        "quickXorHash differs",
        reason="hash-mismatch",
        drive_id="b!drive",
        item_id="01ITEM",
        expected="AAA=",
        actual="BBB=",
    )
    assert str(error) == (
        "download of item 01ITEM in drive b!drive failed (hash-mismatch): quickXorHash differs "
        "(expected AAA=, got BBB=)"
    )
    assert error.retryable


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        (errno.ENOSPC, "disk is full"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_local_storage_error_from_oserror(code: int, needle: str) -> None:
    error = LocalStorageError.from_oserror(OSError(code, "boom", "/mirror/a.txt"))
    assert error.errno == code
    assert str(error.path) == "/mirror/a.txt"
    assert error.hint is not None
    assert needle in error.hint
    assert errno.errorcode[code] in str(error)


def test_state_safety_lock_resolution_messages() -> None:
    assert "state store" in str(StateError("file is not a database", path="/m/.state.db"))
    assert StateError("x").hint
    safety = SafetyError(target="docs", would_delete=1200, limit=100, total=1500)
    assert "1200 of 1500" in str(safety)
    assert safety.hint is not None
    assert "--force" in safety.hint
    lock = LockError(path="/m/.ms365sync.lock", holder="pid 42 on host1")
    assert "pid 42 on host1" in str(lock)
    missing = ResolutionError(
        kind="library",
        name="Docs",
        scope="site marketing",
        available=[f"Lib{i}" for i in range(12)],
    )
    text = str(missing)
    assert text.startswith("library 'Docs' not found in site marketing; available: 'Lib0'")
    assert "and 2 more" in text
    assert ResolutionError(kind="site", name="x").hint is None


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (SIGNED, "v1.eyJzZWNyZXQiOiJ5ZXMifQ.c2lnbmF0dXJl"),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig-part here", "eyJhbGciOiJSUzI1NiJ9"),
        ("https://user:pa55w0rd@proxy.example/x", "pa55w0rd"),
        ("https://acct.blob.core.windows.net/c/b?sv=2020&sig=abc%2Bdef", "abc%2Bdef"),
        ("client_secret=s3cr3t~value&scope=x", "s3cr3t~value"),
    ],
)
def test_redact_removes_credentials(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "<redacted>" in redact(text)


def test_redact_keeps_ordinary_urls_and_delta_tokens_intact() -> None:
    link = "https://graph.microsoft.com/v1.0/drives/b!x/root/delta?$select=id%2cname&token=MzslMjM0"
    assert redact(link) == link
    assert redact("https://login.microsoftonline.com/error?code=7000215") == (
        "https://login.microsoftonline.com/error?code=7000215"
    )


def test_a_redacted_log_argument_is_redacted_when_formatted() -> None:
    url = "https://h/x/download.aspx?UniqueId=1&tempauth=v1.eyJhbGciOi.sig&ApiVersion=2.0"
    lazy = Redacted(url)
    assert f"{lazy}" == str(lazy) == redact(url)
    assert "eyJhbGciOi" not in f"{lazy:>10}" and "eyJhbGciOi" not in repr(lazy)
