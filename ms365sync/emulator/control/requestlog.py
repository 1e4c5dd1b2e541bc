"""An optional JSON-lines log of requests, without headers, bodies or secrets."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

# Query parameters that carry credentials; their values never reach the log.
SECRET_PARAMS = frozenset(
    {"tempauth", "client_secret", "client_assertion", "access_token", "code", "sig"}
)
REDACTED = "REDACTED"


def redact_query(query_string: str) -> str:
    """The raw query string with the value of every credential-bearing parameter replaced."""
    if not query_string:
        return ""
    pairs = []
    for pair in query_string.split("&"):
        name, eq, _value = pair.partition("=")
        pairs.append(f"{name}={REDACTED}" if eq and name.lower() in SECRET_PARAMS else pair)
    return "&".join(pairs)


@dataclass(frozen=True)
class LogEntry:
    """One answered request. `query` must already be redacted (see redact_query)."""

    time: str
    method: str
    host: str
    path: str
    query: str
    status: int
    resource_units: int
    bytes_sent: int
    service: str
    route: str
    fault: str
    request_id: str


class RequestLog:
    """Appends one JSON object per line to a file or stream; safe to share between threads."""

    def __init__(self, sink: TextIO | str | Path) -> None:
        self._owned = not hasattr(sink, "write")
        self._stream: TextIO = (
            open(sink, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed in close())
            if isinstance(sink, (str, Path))
            else sink
        )
        self._lock = threading.Lock()

    def record(self, entry: LogEntry) -> None:
        line = json.dumps(asdict(entry), separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._stream.write(line + "\n")

    def close(self) -> None:
        """Close the file if this log opened it (a stream passed in stays open)."""
        with self._lock:
            if self._owned:
                self._stream.close()
            else:
                self._stream.flush()
