"""Every channel the bot has, listed once, and built in one place from the core and the settings.

The order matters where one channel uses what another offers: the web pages send their confirmation
mails through the first channel that carries mail (Microsoft 365's Exchange, or the console).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.channel import Channel, checked
from bot.core import Core
from bot.entry.settings import BotSettings
from bot.mail import Mailer
from handlers.console.channel import ConsoleChannel
from handlers.console.mailer import ConsoleMailer
from handlers.microsoft365.channel import Microsoft365Channel
from handlers.slack.channel import SlackChannel
from handlers.web.channel import WebChannel

CHANNEL_TYPES: tuple[type[Channel], ...] = (ConsoleChannel, SlackChannel, Microsoft365Channel, WebChannel)


def channel_templates() -> dict[str, Path]:
    """Each channel's own template folder, by channel name (for the renderer)."""
    return {kind.name: kind.templates for kind in CHANNEL_TYPES if kind.templates is not None}


def build_channels(
    core: Core,
    settings: BotSettings,
    *,
    console: TextIO | None = None,
    mailer: Mailer | None = None,
) -> tuple[list[Channel], Mailer]:
    """The configured channels and the mail transport the core's mail goes through. `console`: the
    terminal of a console session (its channel comes first, so mail is printed there too);
    `mailer`: a transport to use instead of the channels' own."""
    channels: list[Channel] = []
    if console is not None:
        channels.append(ConsoleChannel(core, console))
    if settings.slack is not None:
        channels.append(SlackChannel(core, settings.slack))
    if settings.microsoft is not None:
        channels.append(Microsoft365Channel(core, settings.microsoft))
    transport = mailer or _first_transport(channels) or ConsoleMailer()
    channels.append(WebChannel(core, settings.web, transport))
    return checked(channels), transport


def _first_transport(channels: Sequence[Channel]) -> Mailer | None:
    for channel in channels:
        transport = channel.mail_transport()
        if transport is not None:
            return transport
    return None
