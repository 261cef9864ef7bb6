"""Every channel the bot has, listed once, and built in one place from the core and the settings.

A channel's package is listed here; its channel (and the platform libraries it brings, such as Bolt
or msal) is imported only when it is configured, so a CLI command that needs no Slack does not load
it. The order matters where one channel uses what another offers: the web pages send their
confirmation mails through the first channel that carries mail (the console in a console session,
else Microsoft 365's Exchange, else an SMTP relay; SMTP is on only without Microsoft 365).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TextIO

import handlers.console
import handlers.microsoft365
import handlers.slack
import handlers.smtp
import handlers.web
from bot.channel import Channel, checked
from bot.core import Core
from bot.entry.settings import BotSettings
from bot.mail import Mailer
from bot.services.privacy import Eraser

CHANNEL_PACKAGES: tuple[ModuleType, ...] = (
    handlers.console,
    handlers.slack,
    handlers.microsoft365,
    handlers.smtp,
    handlers.web,
)


def channel_templates() -> dict[str, Path]:
    """Each channel's own template folder, by channel name (for the renderer), and by the names of
    its senders where they differ (`SENDERS`): the core's notice that a sender paused looks up
    `<language>/<sender>/outage/<problem>.txt` for what to do about it."""
    found: dict[str, Path] = {}
    for package in CHANNEL_PACKAGES:
        if package.TEMPLATES is not None:
            for name in (package.NAME, *getattr(package, "SENDERS", ())):
                found[name] = package.TEMPLATES
    return found


def channel_erasers() -> tuple[Eraser, ...]:
    """Each channel's part of an erasure (its own tables), for the dispatcher."""
    return tuple(package.ERASE for package in CHANNEL_PACKAGES if package.ERASE is not None)


def channel_types() -> tuple[type[Channel], ...]:
    """Every channel's class, in the registry's order (imports them all: for checks and tests)."""
    from handlers.console.channel import ConsoleChannel
    from handlers.microsoft365.channel import Microsoft365Channel
    from handlers.slack.channel import SlackChannel
    from handlers.smtp.channel import SmtpChannel
    from handlers.web.channel import WebChannel

    return ConsoleChannel, SlackChannel, Microsoft365Channel, SmtpChannel, WebChannel


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
        from handlers.console.channel import ConsoleChannel

        # Without a mail transport, the console's development mailbox takes the mail (.eml files).
        mail_dir = None if settings.mail_configured else Path(settings.mail_dir)
        channels.append(ConsoleChannel(core, console, mail_dir=mail_dir))
    if settings.slack is not None:
        from handlers.slack.channel import SlackChannel

        channels.append(SlackChannel(core, settings.slack))
    if settings.microsoft is not None:
        from handlers.microsoft365.channel import Microsoft365Channel

        channels.append(Microsoft365Channel(core, settings.microsoft))
    if settings.smtp is not None:
        from handlers.smtp.channel import SmtpChannel

        channels.append(SmtpChannel(core, settings.smtp))
    from handlers.console.mailer import ConsoleMailer
    from handlers.web.channel import WebChannel

    transport = mailer or _first_transport(channels) or ConsoleMailer()
    sign_in = None
    if settings.microsoft is not None:  # organisers sign in to the dashboard with Microsoft too
        from handlers.microsoft365.dashboard_sign_in import MicrosoftDashboardSignIn

        sign_in = MicrosoftDashboardSignIn(settings.microsoft)
    channels.append(WebChannel(core, settings.web, transport, sign_in))
    return checked(channels), transport


def _first_transport(channels: Sequence[Channel]) -> Mailer | None:
    for channel in channels:
        transport = channel.mail_transport()
        if transport is not None:
            return transport
    return None
