"""JSON batching of GET requests: chunks of 20, correlation by id, retry of only the failed entries.

A `$batch` 200 envelope can carry 429s with their own Retry-After, answers arrive in any
order, and sub-request URLs are relative to the version root (graph-facts §7). Entries that fail
transiently go back into the queue and are sent again, after the largest Retry-After among
them has closed the shared gate; every other entry keeps its first answer.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from loguru import logger
from pydantic import JsonValue

from ms365sync.errors import GraphError, TransportError
from ms365sync.graph.classify import Action, Verdict, classify_status
from ms365sync.graph.transport import Transport, parse_model
from ms365sync.graph.types import BatchResponse, BatchSubResponse, JsonObject

__all__ = ["MAX_BATCH_SIZE", "BatchResult", "relative_url", "run_batch"]

MAX_BATCH_SIZE = 20  # Graph rejects a batch of more than 20 requests


@dataclass(frozen=True)
class BatchResult:
    """The final answer to one sub-request: its status and body, or the error it ended with.

    `error` is a TransportError only when the whole envelope could not be exchanged.
    """

    status: int
    body: JsonValue = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: GraphError | TransportError | None = None

    @property
    def ok(self) -> bool:
        """Whether the sub-request succeeded."""
        return self.error is None


def relative_url(base_url: str, url: str) -> str:
    """A sub-request URL relative to the version root ("/drives/..."), as $batch requires."""
    if url.startswith(base_url):
        url = url[len(base_url) :]
    elif url.startswith(("https://", "http://")):
        parts = urlsplit(url)
        url = parts.path + (f"?{parts.query}" if parts.query else "")
    for version in ("/v1.0", "/beta"):
        if url.startswith(f"{version}/"):
            url = url[len(version) :]
    return url if url.startswith("/") else f"/{url}"


def run_batch(
    transport: Transport, urls: Mapping[str, str], *, cost_per_request: float = 1.0
) -> dict[str, BatchResult]:
    """GET every URL in `urls` (key -> URL) through `$batch`; returns key -> final result.

    Keys are the caller's; the wire ids are generated, so keys need not be unique
    case-insensitively. Envelope-level failures become the result of every key they cover.

    Raises:
        AuthError: no access token could be obtained.
    """
    keys = list(urls)
    paths = {
        str(index): relative_url(transport.base_url, urls[key]) for index, key in enumerate(keys)
    }
    queue: deque[str] = deque(paths)
    attempts: Counter[str] = Counter()
    results: dict[str, BatchResult] = {}
    renewed = False  # members answering 401 renew the token once per call, as a request does
    while queue:
        chunk = [queue.popleft() for _ in range(min(MAX_BATCH_SIZE, len(queue)))]
        answers = _post(transport, chunk, paths, cost_per_request)
        retry: list[Verdict] = []
        rejected: list[Verdict] = []
        for wire_id in chunk:
            attempts[wire_id] += 1
            answer = answers.get(wire_id)
            if isinstance(answer, GraphError | TransportError):
                results[wire_id] = _failed(answer)
                continue
            verdict = _verdict(answer, transport.base_url + paths[wire_id])
            if verdict.action is Action.RENEW_TOKEN and not renewed:
                queue.append(wire_id)  # the envelope passed, the token expired meanwhile
                rejected.append(verdict)
            elif _should_retry(verdict, attempts[wire_id], transport.max_attempts):
                queue.append(wire_id)
                retry.append(verdict)
            else:
                results[wire_id] = _result(answer, verdict)
        if rejected:
            renewed = True
            transport.prepare_retry(rejected[0], 1, renewed=False)
        if retry:
            _wait_before_retry(transport, retry, max(attempts[i] for i in queue))
    return {keys[int(wire_id)]: result for wire_id, result in results.items()}


def _post(
    transport: Transport, chunk: list[str], paths: Mapping[str, str], cost: float
) -> dict[str, BatchSubResponse | GraphError | TransportError]:
    requests_json: list[JsonValue] = [
        {"id": wire_id, "method": "GET", "url": paths[wire_id]} for wire_id in chunk
    ]
    body: JsonObject = {"requests": requests_json}
    try:
        response = transport.request("POST", "$batch", json_body=body, cost=cost * len(chunk))
        envelope = parse_model(BatchResponse, response)
    except (GraphError, TransportError) as exc:
        logger.debug("$batch of {} requests failed as a whole: {}", len(chunk), exc)
        return dict.fromkeys(chunk, exc)
    # Ids are compared case-insensitively by Graph; ours are digits, so exact match is enough.
    return {entry.id: entry for entry in envelope.responses}


def _verdict(answer: BatchSubResponse | None, url: str) -> Verdict:
    if answer is None:
        missing = GraphError(
            "the $batch answer has no entry for this request",
            code="missingBatchResponse",
            method="GET",
            url=url,
            retryable=True,
        )
        return Verdict(Action.BACKOFF, missing)
    return classify_status(answer.status, answer.headers, answer.body, method="GET", url=url)


def _should_retry(verdict: Verdict, attempts: int, max_attempts: int) -> bool:
    return verdict.action in (Action.THROTTLED, Action.BACKOFF) and attempts < max_attempts


def _result(answer: BatchSubResponse | None, verdict: Verdict) -> BatchResult:
    if answer is None or verdict.action is not Action.DONE:
        error = verdict.error if isinstance(verdict.error, GraphError) else None
        error = error or GraphError("sub-request failed", code="batchFailure")
        status = answer.status if answer else 0
        return BatchResult(status=status, error=error)
    return BatchResult(status=answer.status, body=answer.body, headers=answer.headers)


def _failed(error: GraphError | TransportError) -> BatchResult:
    status = error.status if isinstance(error, GraphError) and error.status else 0
    return BatchResult(status=status, error=error)


def _wait_before_retry(transport: Transport, verdicts: list[Verdict], attempt: int) -> None:
    throttled = [verdict for verdict in verdicts if verdict.action is Action.THROTTLED]
    if throttled:
        delays = [v.retry_after for v in throttled if v.retry_after is not None]
        resets = [v.reset for v in throttled if v.reset is not None]
        # The largest sub-response Retry-After, applied once, closes the gate for everyone.
        transport.gate.pause(max(delays, default=None), max(resets, default=None))
    else:
        transport.gate.backoff(attempt)
