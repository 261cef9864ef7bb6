"""Block Kit for the bot's own posts (invitation, reminder, change, cancellation, follow-up), with a
plain-text fallback for notifications and old clients.

The delivery engine's Slack sender calls `session_post` and hands the result to chat.postMessage:

    post = session_post(renderer, labels, "invitation", series, session, language="nb")
    client.chat_postMessage(channel=channel_id, **post.as_kwargs())

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
from handlers.slack.blocks import MESSAGE_BLOCKS, Block, actions, button, context, header, sections
from handlers.slack.labels import Labels

KINDS = ("invitation", "reminder", "change", "cancellation", "followup")
# Posts worth a "Join" button: the meeting is still ahead.
JOINABLE = frozenset({"invitation", "reminder", "change"})
# Channel posts that invite people to subscribe.
RECRUITING = frozenset({"invitation", "reminder", "change", "followup"})


@dataclass(frozen=True)
class SlackMessage:
    """What chat.postMessage needs: `text` (escaped mrkdwn, the notification) and the blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

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
    blocks = [header(summary), *sections(body)]
    buttons = _buttons(labels.of(language), kind, series, session, direct)
    if buttons:
        blocks.append(actions(*buttons, block_id=f"post_{kind}"))
    blocks.append(context(render("footer", "mrkdwn")))
    if len(blocks) > MESSAGE_BLOCKS:
        blocks = [*blocks[: MESSAGE_BLOCKS - 1], blocks[-1]]
    return SlackMessage(text=escape_mrkdwn(summary), blocks=blocks)


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
