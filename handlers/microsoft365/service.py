"""Microsoft 365 for one running bot, built in one place: auth, the client, and every part that uses it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.calendar_ids import uid_host
from bot.core import Core
from bot.tokens import leave_url
from handlers.microsoft365.attendance import Attendance, AttendanceApi
from handlers.microsoft365.auth import AppAuth, DelegatedAuth, GraphTokens
from handlers.microsoft365.bounces import GraphBounces
from handlers.microsoft365.calendar import CalendarApi
from handlers.microsoft365.calendar_sync import CalendarSync
from handlers.microsoft365.changes import ChangeHandler
from handlers.microsoft365.client import GraphClient
from handlers.microsoft365.delta import ChannelDelta, ChatPoller, Cursors
from handlers.microsoft365.directory import Directory
from handlers.microsoft365.errors import GraphError, Health, LoginNeeded
from handlers.microsoft365.inbound import InboundCommands
from handlers.microsoft365.inbound_message import Where
from handlers.microsoft365.login_store import LoginStore
from handlers.microsoft365.mail import GraphMailer, MailApi
from handlers.microsoft365.mail_sender import MailSender
from handlers.microsoft365.mailbox import Mailbox
from handlers.microsoft365.meeting_ics import MeetingIcs
from handlers.microsoft365.meeting_options import MeetingOptions, MeetingOptionsApi
from handlers.microsoft365.notifications import NotificationInbox, client_state
from handlers.microsoft365.settings import MicrosoftSettings
from handlers.microsoft365.subscriptions import SubscriptionManager
from handlers.microsoft365.teams import TeamsApi
from handlers.microsoft365.teams_sender import TeamsSender

log = logging.getLogger(__name__)


@dataclass
class Microsoft365:
    core: Core
    settings: MicrosoftSettings
    health: Health = field(default_factory=Health)

    def __post_init__(self) -> None:
        app, settings = self.core, self.settings
        self.chat_types: dict[str, bool] = {}  # chat id → is it a 1:1 chat
        limits = app.settings.limits
        self.host = uid_host(app.settings.public_base_url)
        self.store = LoginStore(app.db, app.settings.secret_key, app.clock)
        self.app_auth = AppAuth(settings, self.health)
        self.user_auth = DelegatedAuth(settings, self.store, app.clock)
        tokens = GraphTokens(self.app_auth, self.user_auth)
        self.client = GraphClient(settings.graph_api_url, tokens, app.clock, timeout=settings.timeout)
        self.mailbox = Mailbox(app.db, app.clock, settings.organiser, limits)
        self.mail = MailApi(self.client, settings.organiser)
        self.teams = TeamsApi(self.client, settings)
        self.directory = Directory(self.client, app.clock)
        self.cursors = Cursors(app.db, app.clock)
        self.bounces = GraphBounces(self.client, self.cursors, settings.organiser, self.health)
        where = Where(
            self.self_id, settings.command_prefix, settings.team_id, settings.channel_id, self.one_on_one
        )
        self.inbound = InboundCommands(app, self.teams, self.directory, where)
        calendar_api = CalendarApi(self.client, settings.organiser)
        meetings_api = MeetingOptionsApi(self.client, settings.organiser)
        self.meeting_ics = MeetingIcs(app.db, calendar_api)
        self.calendar = CalendarSync(
            app.db,
            app.clock,
            app.renderer,
            calendar_api,
            self.mailbox,
            app.config,
            self.health,
            limits.mail_max_recipients,
            lambda slug: leave_url(app.settings, slug),
            MeetingOptions(app.db, app.clock, meetings_api),
        )
        self.attendance = Attendance(
            app.db, app.clock, AttendanceApi(self.client, meetings_api), app.notify_organisers
        )
        self.channel_delta = ChannelDelta(self.client, self.teams, self.cursors, self.inbound, self.directory)
        self.chats = ChatPoller(self.client, self.cursors, self.inbound, self.self_id)
        self.changes = ChangeHandler(self.client, self.inbound, self.directory, settings)
        secret = client_state(app.settings.secret_key)
        self.subscriptions = SubscriptionManager(
            self.client,
            app.db,
            app.clock,
            self.teams,
            app.settings.public_base_url,
            secret,
            self.self_id,
            self.poll,
        )
        self.inbox = NotificationInbox(secret, self.changes, self.subscriptions.on_lifecycle, app.errors)

    def self_id(self) -> str | None:
        """The service account's Entra id (from the stored login), once known."""
        if self.user_auth.user_id is None:
            state = self.store.state()
            self.user_auth.user_id = state.user_id if state else None
        return self.user_auth.user_id

    def one_on_one(self, chat_id: str) -> bool:
        if chat_id not in self.chat_types:
            try:
                self.chat_types[chat_id] = self.teams.chat(chat_id).get("chatType") == "oneOnOne"
            except (GraphError, LoginNeeded) as exc:
                log.warning("Teams: chat %s could not be read: %s", chat_id, exc)
                return False
        return self.chat_types[chat_id]

    def poll(self) -> int:
        """Read the channel and the 1:1 chats once; returns how many commands were carried out."""
        done = 0
        self.self_id()
        for source in (self.channel_delta.poll, self.chats.poll):
            try:
                done += source()
            except LoginNeeded:
                return done  # reported once by the login; polling resumes after `teams login`
            except GraphError as exc:
                log.warning("Teams: reading messages failed: %s", exc)
        return done

    def senders(self) -> list[MailSender | TeamsSender]:
        return [
            MailSender(
                self.core.renderer,
                self.core.settings,
                self.settings.organiser,
                self.mail,
                self.mailbox,
                self.core.clock,
                self.health,
                self.host,
                self.calendar.ensure_meeting,
                self.meeting_ics,
            ),
            TeamsSender(
                self.core.renderer,
                self.teams,
                self.health,
                self.self_id,
                self.calendar.ensure_meeting,
                self.core.settings.public_base_url,
            ),
        ]

    def mailer(self) -> GraphMailer:
        return GraphMailer(self.mail, self.mailbox, self.core.clock, self.host)

    def close(self) -> None:
        self.client.close()
