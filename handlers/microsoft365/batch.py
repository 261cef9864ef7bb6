"""JSON batching (`POST /$batch`): up to 20 requests per round trip, each with its own outcome.

The outer 200 says nothing about the inner answers: inner 429/503s are sent again (in one smaller
batch) after the longest Retry-After they asked for; every other inner outcome is handed back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.microsoft365.client import Auth, GraphClient, backoff

MAX_PER_BATCH = 20


@dataclass(frozen=True)
class BatchRequest:
    id: str
    method: str
    url: str  # relative to GRAPH_API_URL, e.g. "/users/{id}"
    body: Any = None


@dataclass(frozen=True)
class BatchResult:
    id: str
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def batch(
    client: GraphClient,
    requests: Sequence[BatchRequest],
    *,
    auth: Auth,
    permission: str,
    rounds: int = 4,
) -> dict[str, BatchResult]:
    """Every request's result by id; inner throttling is retried up to `rounds` times."""
    results: dict[str, BatchResult] = {}
    pending = list(requests)
    for round_number in range(1, rounds + 1):
        throttled: list[BatchRequest] = []
        wait = 0.0
        for start in range(0, len(pending), MAX_PER_BATCH):
            chunk = pending[start : start + MAX_PER_BATCH]
            by_id = {r.id: r for r in chunk}
            answer = client.call(
                "POST",
                "/$batch",
                auth=auth,
                permission=permission,
                json={"requests": [_inner(r) for r in chunk]},
                idempotent=all(r.method == "GET" for r in chunk),
            ).object()
            for item in answer.get("responses", []):
                result = BatchResult(str(item.get("id")), int(item.get("status", 0)), item.get("body"))
                if result.status in (429, 503) and result.id in by_id:
                    throttled.append(by_id[result.id])
                    wait = max(wait, _retry_after(item, round_number))
                results[result.id] = result
        if not throttled or round_number == rounds:
            break
        client.clock.sleep(wait)
        pending = throttled
    return results


def _inner(request: BatchRequest) -> dict[str, Any]:
    inner: dict[str, Any] = {"id": request.id, "method": request.method, "url": request.url}
    if request.body is not None:
        inner["body"] = request.body
        inner["headers"] = {"Content-Type": "application/json"}
    return inner


def _retry_after(item: dict[str, Any], round_number: int) -> float:
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    raw = headers.get("retry-after", "")
    return float(raw) if raw.isdigit() else backoff(round_number)
