"""Rendering one outgoing message from `templates/<language>/messages/<kind>.*` for a channel's format."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bot.delivery.channels import OutgoingMessage
from bot.rendering import Renderer

# Payload values that are moments, stored as ISO text.
MOMENTS = ("start", "previous_start", "finish", "since")
KEPT = 64  # renderings kept (a fan-out needs one per language; a handful run at a time)
T = TypeVar("T")


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str


def context(message: OutgoingMessage, **extra: Any) -> dict[str, Any]:
    payload = dict(message.payload)
    for name in MOMENTS:
        if isinstance(payload.get(name), str):
            payload[name] = datetime.fromisoformat(payload[name])
    return {
        "kind": message.kind,
        "series": message.series,
        "session": message.session,
        "recipient": message.recipient,
        "payload": payload,
        "invite_url": message.invite_url,
        **extra,
    }


def render(renderer: Renderer, message: OutgoingMessage, fmt: str = "text", **extra: Any) -> RenderedMessage:
    data = context(message, **extra)
    options = {"language": message.language, "timezone": message.series.timezone}
    subject = renderer.render(f"messages/{message.kind}.subject.txt", data, **options)
    body = renderer.render(f"messages/{message.kind}.txt", data, fmt=fmt, **options)
    return RenderedMessage(subject, body)


class SameForAll:
    """What a message renders to, made once for all the rows that read the same: those of one
    message (kind, series, session as read now, payload, language) whose templates do not read
    `recipient`. A fan-out's 10,000 direct messages render once per language instead of per row;
    a session changed meanwhile is another key, so no row goes out with what it said before."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self._personal: dict[tuple[str, str], bool] = {}
        self._kept: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, message: OutgoingMessage, extra: Hashable, make: Callable[[], T]) -> T:
        """`make()`'s result for this message (and `extra`: what else the rendering depends on),
        made anew for a message that reads its recipient."""
        if message.recipient is not None and self._personal_for(message.kind, message.language):
            return make()
        key = (
            message.kind,
            message.language,
            message.series,
            message.session,
            json.dumps(message.payload, sort_keys=True, default=str),
            message.invite_url,
            extra,
        )
        with self._lock:
            if key in self._kept:
                return self._kept[key]  # type: ignore[no-any-return]
        made = make()
        with self._lock:
            if len(self._kept) >= KEPT:
                self._kept.clear()
            self._kept[key] = made
        return made

    def _personal_for(self, kind: str, language: str) -> bool:
        found = self._personal.get((kind, language))
        if found is None:
            found = any(
                self.renderer.reads(f"messages/{kind}{part}.txt", "recipient", language=language)
                for part in (".subject", "")
            )
            self._personal[(kind, language)] = found
        return found
