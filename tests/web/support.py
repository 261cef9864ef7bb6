"""Shared by the web page tests: the app behind a TestClient, a mailbox that keeps what is sent, and
small readers for what the pages and mails contain."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import SessionFields, Subscribe, Unsubscribe
from bot.entry.composition import App, build
from bot.entry.runtime import attach_senders
from bot.entry.server import create_web_app
from bot.entry.settings import BotSettings
from bot.mail import MailMessage
from bot.models import Person, Subscription
from bot.services.context import Ctx
from bot.services.links import add_link
from bot.services.series import resolve_series
from bot.services.sessions import add_session
from handlers.web.channel import WebChannel
from handlers.web.settings import WebSettings
from tests.conftest import ORGANISER, person

with warnings.catch_warnings():
    # Starlette suggests another HTTP client for its TestClient; httpx is what is installed.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BASE = "https://webinar.example.org"
SLUG = "baerekraftsfredag"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
LINK_RE = re.compile(r"https?://[^\s<>\"]+")


@dataclass
class Mailbox:
    """The mail transport as the tests see it: every message the app sent, in order. The web queues
    its mails in the outbox; reading `sent` first lets the delivery engine send what is due."""

    delivered: list[MailMessage] = field(default_factory=list)
    failure: Exception | None = None  # what the next sends raise (a transport that is down)
    deliver: Callable[[], object] = lambda: None

    @property
    def sent(self) -> list[MailMessage]:
        self.deliver()
        return self.delivered

    def send(self, message: MailMessage) -> None:
        if self.failure is not None:
            raise self.failure
        self.delivered.append(message)

    def links(self, message: MailMessage | None = None) -> list[str]:
        """Every link in a mail's text and HTML (the last mail by default)."""
        mail = message or self.sent[-1]
        return LINK_RE.findall(mail.text) + LINK_RE.findall(mail.html or "")

    def link(self, path_prefix: str) -> str:
        """The path of the last mail's link that starts with `path_prefix`, e.g. "/confirm/"."""
        for url in self.links():
            path = url.removeprefix(BASE)
            if path.startswith(path_prefix):
                return path
        raise AssertionError(f"no {path_prefix} link in {self.links()}")


@dataclass
class Web:
    app: App
    client: TestClient
    mailbox: Mailbox
    clock: ManualClock

    def csrf(self, path: str) -> str:
        """Open `path` (which sets the CSRF cookie) and return its form's CSRF field; from a page
        without a form, the subscribe form's (the field belongs to the browser, not to a form)."""
        found = CSRF_RE.search(self.client.get(path).text)
        if found is None:
            found = CSRF_RE.search(self.client.get(f"/s/{SLUG}/subscribe").text)
        assert found, "no CSRF field"
        return found.group(1)

    def post_form(self, path: str, data: dict[str, str], *, form_page: str | None = None) -> Any:
        """POST a form the way a browser does: first open the page that holds it."""
        token = self.csrf(form_page or path)
        return self.client.post(path, data={"csrf": token, **data}, follow_redirects=False)

    def subscribe(self, email: str, *, name: str = "Kari", language: str = "nb") -> Any:
        path = f"/s/{SLUG}/subscribe"
        return self.post_form(path, {"email": email, "name": name, "language": language})


@contextmanager
def open_web(
    settings: BotSettings, clock: ManualClock, *, public_base_url: str | None = BASE, **limits: int
) -> Iterator[Web]:
    """The app with its web routes behind a TestClient on BASE, mail going to a Mailbox."""
    settings = replace(settings, public_base_url=public_base_url, web=WebSettings(**limits))
    mailbox = Mailbox()
    app = build(settings, clock=clock, migrate=False, mailer=mailbox)
    web = app.channel(WebChannel)
    assert web is not None
    attach_senders(app)
    mailbox.deliver = app.delivery.run_until_idle
    client = TestClient(create_web_app(app, web.routes()), base_url=BASE)
    try:
        yield Web(app, client, mailbox, clock)
    finally:
        client.close()
        app.close()


def h1(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found, "page without <h1>"
    return found.group(1).strip()


def person_by_email(app: App, email: str) -> Person | None:
    with app.db.read() as s:
        return s.scalar(select(Person).where(Person.email == email))


def is_active(app: App, email: str, slug: str = SLUG) -> bool:
    with app.db.read() as s:
        person = s.scalar(select(Person).where(Person.email == email))
        if person is None:
            return False
        subs = s.scalars(select(Subscription).where(Subscription.person_id == person.id))
        return any(sub.active and sub.series.slug == slug for sub in subs)


def add_person(app: App, email: str, *, subscribed: bool = True) -> int:
    """Someone the operator vouched for (as `shell --as`), subscribed to the default series."""
    actor = person(email, name="Kari Nordmann")
    app.dispatcher.execute(actor, Subscribe(series=SLUG))
    if not subscribed:
        app.dispatcher.execute(actor, Unsubscribe(series=SLUG))
    found = person_by_email(app, email)
    assert found is not None
    return found.id


def series_id(app: App, slug: str = SLUG) -> int:
    with app.db.read() as s:
        return resolve_series(Ctx(s, ORGANISER, app.clock.now(), app.config), slug).id


def add_a_session(
    app: App,
    title: str,
    start_local: datetime,
    *,
    join_url: str | None = None,
    speakers: str | None = None,
    links: tuple[tuple[str, str, str | None], ...] = (),
) -> int:
    """A session (in the past too) with its presentation links (title, url, speaker)."""
    fields = SessionFields(title=title, start_local=start_local, join_url=join_url, speakers=speakers)
    with app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, app.clock.now(), app.config)
        session = add_session(ctx, resolve_series(ctx, SLUG), fields, allow_past=True)
        for link_title, url, speaker in links:
            add_link(ctx, session.id, url, link_title, speaker)
        return session.id
