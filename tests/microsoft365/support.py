"""Shared by the Microsoft 365 tests: the fake identity provider and Graph (HTTPS, trusted through
the standard CA-bundle variables), an app configured for them, and the people and words of a tenant."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

import httpx
import pytest
from starlette.routing import BaseRoute

from bot.clock import ManualClock
from bot.commands import Actor, SessionFields
from bot.delivery.channels import Sender
from bot.entry.composition import App, build
from bot.entry.runtime import work_of
from bot.entry.server import WebServer, create_web_app
from bot.entry.settings import BotSettings
from bot.inbox_worker import InboxWorker
from bot.models import Session as SessionRow
from bot.parser import parse
from bot.services.context import Ctx
from bot.services.series import resolve_series
from bot.services.sessions import add_session
from bot.settings import DeliveryLimits
from handlers.microsoft365.channel import Microsoft365Channel
from handlers.microsoft365.service import Microsoft365
from handlers.microsoft365.settings import MicrosoftSettings
from tests.conftest import ORGANISER
from tests.fakes.https_fake import local_ca
from tests.microsoft365.fakes.graph_api import CHANNEL_ID, TEAM_ID, FakeGraph
from tests.microsoft365.fakes.graph_api import ORGANISER as MAILBOX
from tests.microsoft365.fakes.graph_tenant import Message
from tests.microsoft365.fakes.identity_provider import CLIENT_ID, CLIENT_SECRET, TENANT, FakeIdentityProvider

BOT_ID, BOT_NAME, BOT_UPN = "aad-bot", "Bærekraft-bot", "baerekraft-bot@ks.example"
KARI, JOHN, OLA = "aad-kari", "aad-john", "aad-ola"
ORGANISER_ID = "aad-organiser"  # the organiser mailbox's user (a Teams-licensed account)
PUBLIC = "https://webinar.example.org"
SECRET = "graph-test-secret-key-0123456789"
HEALTH_TOKEN = "operator-health-token-0123"  # the detailed /healthz report is for operators
T = TypeVar("T")


@dataclass
class Fakes:
    idp: FakeIdentityProvider
    graph: FakeGraph


@contextmanager
def running_fakes(monkeypatch: pytest.MonkeyPatch | None = None) -> Iterator[Fakes]:
    """Both fakes on 127.0.0.1, the tenant's people in place, and (with `monkeypatch`) this process
    trusting the test CA through SSL_CERT_FILE / REQUESTS_CA_BUNDLE."""
    if monkeypatch is not None:
        for name, value in local_ca().environ().items():
            monkeypatch.setenv(name, value)
    idp = FakeIdentityProvider().start()
    graph = FakeGraph(idp).start()
    tenant = graph.tenant
    idp.add_account(BOT_ID, BOT_UPN, BOT_NAME)
    tenant.add_user(BOT_ID, BOT_NAME, BOT_UPN)
    tenant.add_user(KARI, "Kari Nordmann", "kari@kommune.no", "nb-NO")
    tenant.add_user(JOHN, "John Smith", "John@Example.org", "en-GB")
    tenant.add_user(OLA, "Ola Uten Epost", None, "nb-NO")
    tenant.add_user(ORGANISER_ID, "Bærekraftsfredag", MAILBOX, "nb-NO")
    try:
        yield Fakes(idp, graph)
    finally:
        graph.stop()
        idp.stop()


def microsoft_settings(fakes: Fakes, **overrides: object) -> MicrosoftSettings:
    base = MicrosoftSettings(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        organiser=MAILBOX,
        team_id=TEAM_ID,
        channel_id=CHANNEL_ID,
        authority_host=fakes.idp.url,
        graph_api_url=fakes.graph.base,
        timeout=5.0,  # generous: a loaded CI machine must not turn a slow answer into a lost one
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@dataclass
class Tenant365:
    """The app under test with Microsoft 365 on, and the fakes it talks to."""

    app: App
    m365: Microsoft365
    fakes: Fakes
    clock: ManualClock

    @property
    def graph(self) -> FakeGraph:
        return self.fakes.graph

    @property
    def idp(self) -> FakeIdentityProvider:
        return self.fakes.idp

    def login(self) -> str:
        """The service account signs in with the device code (approved at once)."""
        flow = self.m365.user_auth.start_device_login()
        self.idp.approve(flow["user_code"], BOT_ID)
        return self.m365.user_auth.finish_device_login(flow)

    def attach_senders(self) -> list[Sender]:
        senders: list[Sender] = list(self.m365.senders())
        for sender in senders:
            self.app.delivery.add_sender(sender)
        return senders

    def poll(self) -> int:
        """Read Teams once, as the front does, then carry out what it recorded, as the inbox worker
        does; returns how many commands the reading recorded."""
        recorded = self.m365.poll()
        self.carry_out()
        return recorded

    def carry_out(self) -> int:
        """What the inbox worker does: the Teams commands recorded by polling or notifications."""
        return InboxWorker(self.app.inbox, work_of(self.app.channels)).run_once()

    def say(self, actor: Actor, line: str) -> str:
        return self.app.renderer.reply(self.app.dispatcher.execute(actor, parse(line)))

    def add_session(
        self, start: datetime, title: str = "Sirkulær økonomi", *, allow_past: bool = False, **fields: object
    ) -> int:
        local = start.astimezone(self.app.settings.tz).replace(tzinfo=None)
        chosen = SessionFields(title=title, start_local=local, **fields)  # type: ignore[arg-type]
        with self.app.db.transaction() as s:
            ctx = Ctx(s, ORGANISER, self.clock.now(), self.app.config)
            series = resolve_series(ctx, "baerekraftsfredag")
            return add_session(ctx, series, chosen, allow_past=allow_past).id

    def session(self, session_id: int) -> SessionRow:
        with self.app.db.read() as s:
            found = s.get(SessionRow, session_id)
            assert found is not None
            return found

    def in_channel(
        self, user_id: str, text: str, *, mention: bool = False, reply_to: str | None = None
    ) -> Message:
        """A user writes in the network's channel (the fake notifies subscriptions)."""
        tenant = self.graph.tenant
        user = tenant.users[user_id]
        html, mentions = f"<p>{text}</p>", []
        if mention:
            html = f'<p><at id="0">{BOT_NAME}</at> {text}</p>'
            mentions = [{"id": 0, "mentionText": BOT_NAME, "mentioned": {"user": {"id": BOT_ID}}}]
        message = Message(
            tenant.next_id(),
            user.id,
            user.name,
            html,
            self.clock.now(),
            tenant.next_seq(),
            channel=(TEAM_ID, CHANNEL_ID),
            reply_to=reply_to,
            mentions=mentions,
        )
        tenant.add_message(message)
        self.graph.notifier.created(message)
        return message

    def in_chat(self, user_id: str, text: str) -> Message:
        tenant = self.graph.tenant
        chat = tenant.chat_with(user_id, BOT_ID)
        user = tenant.users[user_id]
        message = Message(
            tenant.next_id(),
            user.id,
            user.name,
            f"<p>{text}</p>",
            self.clock.now(),
            tenant.next_seq(),
            chat_id=chat.id,
        )
        tenant.add_message(message)
        self.graph.notifier.created(message)
        return message


def make_settings(
    db_url: str,
    fakes: Fakes,
    *,
    limits: DeliveryLimits | None = None,
    public_base_url: str = PUBLIC,
    **ms: object,
) -> BotSettings:
    return BotSettings(
        database_url=db_url,
        secret_key=SECRET,
        secret_key_is_temporary=False,
        health_token=HEALTH_TOKEN,
        public_base_url=public_base_url,
        microsoft=microsoft_settings(fakes, **ms),
        limits=limits or DeliveryLimits(mail_rate_per_minute=600),
    )


@contextmanager
def tenant365(
    db_url: str,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    *,
    limits: DeliveryLimits | None = None,
    public_base_url: str = PUBLIC,
    **ms: object,
) -> Iterator[Tenant365]:
    with running_fakes(monkeypatch) as fakes:
        settings = make_settings(db_url, fakes, limits=limits, public_base_url=public_base_url, **ms)
        app = build(settings, clock=clock, migrate=False)
        assert app.settings.microsoft is not None
        channel = app.channel(Microsoft365Channel)
        assert channel is not None
        m365 = channel.graph
        fakes.graph.tenant.now = clock.now
        try:
            yield Tenant365(app, m365, fakes, clock)
        finally:
            m365.close()
            app.close()


def soon(clock: ManualClock, **delta: float) -> datetime:
    return clock.now() + timedelta(**delta)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: App, routes: list[BaseRoute], port: int, *, tls: bool = False) -> Iterator[str]:
    """The bot's web server (with `routes`) on 127.0.0.1:`port`, until the block ends. With `tls`,
    behind https with the test CA's certificate, as a reverse proxy would serve it to Graph."""
    server = WebServer(create_web_app(app, routes), "127.0.0.1", port)
    if tls:
        server.server.config.ssl_certfile = str(local_ca().server_pem)
    server.start()
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.02)
    try:
        yield base
    finally:
        server.stop()


def wait_for(check: Callable[[], T], timeout: float = 10.0) -> T:
    """Poll `check` until it returns something truthy (background threads at work)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)
