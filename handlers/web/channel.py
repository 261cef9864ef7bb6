"""The web pages as a `Channel`: their routes on the bot's web server, the confirmation mails they
queue (sent by the delivery engine), the inbox work of the commands they carry out, and the hourly
purge of expired confirmation requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.routing import BaseRoute

from bot.channel import Channel, ChannelJob
from bot.core import Core
from bot.delivery.channels import Sender
from bot.inbox import Work
from bot.mail import Mailer
from bot.services.colleagues import ColleagueMailer
from bot.sign_in import ExternalSignIn
from handlers.web import NAME, TEMPLATES
from handlers.web.admin.dashboard import Dashboard
from handlers.web.invite import colleague_mailer
from handlers.web.jobs import purge_expired_confirmations
from handlers.web.mail_sender import ConfirmationMailSender
from handlers.web.routes import routes
from handlers.web.settings import WebSettings
from handlers.web.site import COMMAND, Site


class WebChannel(Channel):
    name = NAME
    templates = TEMPLATES

    def __init__(
        self, core: Core, settings: WebSettings, mailer: Mailer, sign_in: ExternalSignIn | None = None
    ) -> None:
        self.core = core
        self.site = Site(core, settings)
        # The organisers' dashboard; `sign_in`: Microsoft's, when Microsoft 365 is configured.
        self.dashboard = Dashboard(self.site, sign_in)
        self.mail = ConfirmationMailSender(core, mailer)

    def health(self) -> str:
        return "on"

    def routes(self) -> Sequence[BaseRoute]:
        return routes(self.site, self.dashboard)

    def senders(self) -> Sequence[Sender]:
        return [self.mail]

    def work(self) -> Mapping[str, Work]:
        # A page carries its command out itself; this is for one taken up after a crash.
        return {COMMAND: self.site.carry_out}

    def colleague_mailer(self) -> ColleagueMailer:
        return colleague_mailer(self.site)

    def jobs(self) -> Sequence[ChannelJob]:
        return [ChannelJob("web.purge_confirmations", lambda: purge_expired_confirmations(self.core), 3600)]
