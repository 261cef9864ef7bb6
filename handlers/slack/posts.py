"""Block Kit for the bot's own posts (invitation, reminder, change, cancellation, follow-up), with a
plain-text fallback for notifications and old clients.

The delivery engine's Slack sender calls `session_post` and hands the result to chat.postMessage:

    post = session_post(renderer, labels, "invitation", series, session, language="nb")
    first = client.chat_postMessage(channel=channel_id, **post.as_kwargs())
    for more in post.thread:  # the rest of a body too long for one message, in the first one's thread
        client.chat_postMessage(channel=first["channel"], thread_ts=first["ts"], **more.as_kwargs())

`body` may carry the engine's own rendered mrkdwn (templates/<language>/messages/<kind>.txt with
fmt="mrkdwn"); without it `templates/<language>/slack/posts/<kind>.txt` is used. Every user value is
escaped by the renderer, so a title cannot ping a channel or disguise a link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.rendering import Renderer, escape_mrkdwn
from bot.views import SeriesView, SessionView
from handlers.slack import actions as ids
from handlers.slack.blocks import Block, actions, button, context, header, message_parts, sections
from handlers.slack.labels import Labels

KINDS = ("invitation", "reminder", "change", "cancellation", "followup")
# Posts worth a "Join" button: the meeting is still ahead.
JOINABLE = frozenset({"invitation", "reminder", "change"})
# Channel posts that invite people to subscribe.
RECRUITING = frozenset({"invitation", "reminder", "change", "followup"})


@dataclass(frozen=True)
class SlackMessage:
    """What chat.postMessage needs: `text` (escaped mrkdwn, the notification) and the blocks; `thread`:
    the messages that carry the rest of a body too long for one, to be posted in this one's thread."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    thread: tuple[SlackMessage, ...] = ()

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks, "unfurl_links": False, "unfurl_media": False}


def session_post(
    renderer: Renderer,
    labels: Labels,
    kind: str,
    series: SeriesView,
    session: SessionView,
    *,
    language: str,
    direct: bool = False,
    body: str | None = None,
) -> SlackMessage:
    """A post about `session`: heading, body, buttons (subscribe in a channel, unsubscribe in a DM,
    join while the meeting is ahead) and a footer saying how to leave. Times in the series' zone."""
    data = {"kind": kind, "series": series, "session": session, "s": session, "direct": direct}

    def render(name: str, fmt: str) -> str:
        return renderer.render(
            f"slack/posts/{name}.txt", data, language=language, timezone=series.timezone, fmt=fmt
        )

    summary = render("summary", "text")
    if body is None:
        body = render(kind if kind in KINDS else "invitation", "mrkdwn")
    label = labels.of(language)
    tail: list[Block] = []
    buttons = _buttons(label, kind, series, session, direct)
    if buttons:
        tail.append(actions(*buttons, block_id=f"post_{kind}"))
    tail.append(context(render("footer", "mrkdwn")))
    body_blocks = sections(body)
    parts = message_parts([header(summary)], body_blocks, tail)
    if len(parts) > 1:  # say where the rest is
        parts = message_parts([header(summary)], body_blocks, [context(label["continued"]), *tail])
    text = escape_mrkdwn(summary)
    more = tuple(SlackMessage(text=text, blocks=blocks) for blocks in parts[1:])
    return SlackMessage(text=text, blocks=parts[0], thread=more)


def _buttons(
    label: dict[str, str], kind: str, series: SeriesView, session: SessionView, direct: bool
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if session.join_url and kind in JOINABLE and not session.cancelled:
        found.append(button(label["join"], ids.OPEN_LINK, url=session.join_url))
    if direct:
        found.append(button(label["unsubscribe"], ids.UNSUBSCRIBE, value=series.slug))
    elif kind in RECRUITING:
        found.append(button(label["subscribe"], ids.SUBSCRIBE, value=series.slug, style="primary"))
    return found
