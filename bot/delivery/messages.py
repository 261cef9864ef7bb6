"""Rendering one outgoing message from `templates/<language>/messages/<kind>.*` for a channel's format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.delivery.channels import OutgoingMessage
from bot.rendering import Renderer

# Payload values that are moments, stored as ISO text.
MOMENTS = ("start", "previous_start", "finish", "since")


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
