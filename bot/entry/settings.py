"""All settings of a running bot: the core's and each channel's section, read and checked together,
so an operator sees every problem of a bad `.env` at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from bot.settings import Reader, Settings, core_settings, read_environment
from handlers.microsoft365.settings import MicrosoftSettings, microsoft_settings
from handlers.slack.settings import SlackSettings, slack_settings
from handlers.smtp.settings import SmtpSettings, smtp_settings
from handlers.web.settings import WebSettings, web_settings


@dataclass(frozen=True)
class BotSettings(Settings):
    slack: SlackSettings | None = None
    microsoft: MicrosoftSettings | None = None
    smtp: SmtpSettings | None = None
    web: WebSettings = field(default_factory=WebSettings)
    # Why a channel is off, one line each, for the start-up log.
    disabled_channels: tuple[str, ...] = ()

    @property
    def chat_configured(self) -> bool:
        """A chat platform is set up (else `run` talks to the operator on the console)."""
        return self.slack is not None or self.microsoft is not None

    @property
    def mail_configured(self) -> bool:
        """A mail transport is set up (Exchange through Microsoft 365, or an SMTP relay)."""
        return self.microsoft is not None or self.smtp is not None


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] | None = ".env"
) -> BotSettings:
    """Settings from `environ` (default: the process environment) over the values in `.env`;
    raises SettingsError with one line per problem."""
    r = Reader(read_environment(environ, dotenv_path))
    core = core_settings(r)
    slack, slack_off = slack_settings(r)
    microsoft, microsoft_off = microsoft_settings(r)
    smtp, smtp_off = smtp_settings(r, microsoft=microsoft is not None)
    web = web_settings(r)
    r.raise_problems()
    return BotSettings(
        **{f.name: getattr(core, f.name) for f in fields(core)},
        slack=slack,
        microsoft=microsoft,
        smtp=smtp,
        web=web,
        disabled_channels=tuple(line for line in (slack_off, microsoft_off, smtp_off) if line),
    )
