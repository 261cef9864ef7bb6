"""The announcement channel (SLACK_CHANNEL_ID) with the bot in it.

`chat:write.public` lets the bot post in a public channel without joining it, but Slack shows a
bot only the history of conversations it is a member of, and the sender reads that history to
tell whether a post whose answer was lost went out. So the bot joins a public announcement channel
when it starts. A private channel cannot be joined: someone has to invite the bot; until then Slack
does not even show it the channel, and one clear log line says what to do.
"""

from __future__ import annotations

import logging
import threading
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

BOT_MENTION = "@baerekraft"  # the bot user's display name (manifest.yml, bot_user)


def join_announcement_channel(client: WebClient, channel_id: str) -> bool:
    """conversations.join once; True when the bot is in the channel. A refusal is one log line."""
    try:
        answer = client.conversations_join(channel=channel_id)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        if error == "method_not_supported_for_channel_type":  # a private channel it can see: invited
            log.info("Slack: the announcement channel %s is private and the bot is in it", channel_id)
            return True
        log.error("Slack: the bot cannot join the announcement channel %s: %s", channel_id, _advice(error))
        return False
    except (URLError, OSError) as exc:
        log.error(
            "Slack: the bot could not join the announcement channel %s (%s)", channel_id, type(exc).__name__
        )
        return False
    if answer.get("warning") != "already_in_channel":
        log.info("Slack: the bot joined the announcement channel %s", channel_id)
    return True


def join_in_background(client: WebClient, channel_id: str) -> threading.Thread:
    thread = threading.Thread(
        target=join_announcement_channel, args=(client, channel_id), name="slack-join-channel", daemon=True
    )
    thread.start()
    return thread


def _advice(error: str | None) -> str:
    if error == "channel_not_found":
        return (
            f"Slack does not show it to the bot (channel_not_found). If it is a private channel, "
            f"invite {BOT_MENTION} to the channel; otherwise check SLACK_CHANNEL_ID"
        )
    if error == "missing_scope":
        return "the app lacks the channels:join scope; reinstall it with handlers/slack/manifest.yml"
    if error == "is_archived":
        return "the channel is archived; set SLACK_CHANNEL_ID to a channel in use"
    return f"Slack answered {error or 'nothing'}"
