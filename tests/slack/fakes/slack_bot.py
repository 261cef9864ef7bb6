"""The bot's web server with its Slack channel, running in this process on 127.0.0.1 (port 0),
pointed at a fake Slack Web API, with the platform side signing on the bot's (manual) clock."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from sqlalchemy import select

from bot.clock import ManualClock
from bot.entry.composition import App, build
from bot.entry.server import create_web_app
from bot.entry.settings import BotSettings
from bot.models import Series, Subscription
from bot.parser import parse
from handlers.slack.channel import SlackChannel
from handlers.slack.settings import SlackSettings
from tests.conftest import ORGANISER, inbox_worker
from tests.slack.fakes.slack_api import FakeSlackAPI, running_fake
from tests.slack.fakes.slack_platform import SIGNING_SECRET, SlackPlatform

T = TypeVar("T")

# The workspace's people: Kari (Norwegian), John (English, New York) and Olga, an organiser.
KARI, JOHN, OLGA = "U0KARI", "U0JOHN", "U0OLGA"


def add_people(fake: FakeSlackAPI) -> None:
    fake.add_user(KARI, "Kari Nordmann", email="Kari@Kommune.no", locale="nb-NO", tz="Europe/Oslo")
    fake.add_user(JOHN, "John Smith", email="john@example.org", locale="en-GB", tz="America/New_York")
    fake.add_user(OLGA, "Olga Arrangør", email="olga@ks.no", locale="nb-NO", tz="Europe/Oslo")


@dataclass
class SlackBot:
    app: App
    fake: FakeSlackAPI
    slack: SlackPlatform
    base_url: str

    def response(self, key: str) -> dict[str, Any]:
        """The one answer that arrived at the response_url `key` (waits for it)."""
        return self.fake.wait_for(lambda: self.fake.responses(key))[0]

    def subscribers(self, slug: str = "baerekraftsfredag") -> list[str]:
        """E-mail (or Slack id) of each active subscriber of `slug`, in order of subscription."""
        with self.app.db.read() as s:
            rows = s.scalars(
                select(Subscription)
                .join(Subscription.series)
                .where(Series.slug == slug, Subscription.active.is_(True))
                .order_by(Subscription.id)
            )
            return [sub.person.email or sub.person.identities[0].external_id for sub in rows]


def eventually(found: Callable[[], T | None], timeout: float = 10.0) -> T:
    """For work the bot does after its ack, in another thread: wait until `found()` gives something."""
    deadline = time.monotonic() + timeout
    while not (result := found()):
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {timeout} s")
        time.sleep(0.01)
    return result


def mrkdwn_texts(view_or_blocks: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn text in a view or a block list (what Slack parses for mentions and links)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(view_or_blocks)
    return found


def buttons(view_or_blocks: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks = view_or_blocks["blocks"] if isinstance(view_or_blocks, dict) else view_or_blocks
    found: list[dict[str, Any]] = []
    for block in blocks:
        elements = [block.get("accessory"), *(block.get("elements") or [])]
        found += [e for e in elements if isinstance(e, dict) and e.get("type") == "button"]
    return found


def plan(app: App, title: str, start: str, **options: str) -> int:
    """An operator plans a session (`start` as 'YYYY-MM-DD HH:MM' in Oslo); returns its id."""
    extra = "".join(f"; {key}={value}" for key, value in options.items())
    reply = app.dispatcher.execute(ORGANISER, parse(f"ny økt {start} {title}{extra}"))
    assert reply.key == "session_added", reply
    return int(reply.data["session"].id)


@contextmanager
def serve(web_app: object) -> Iterator[str]:
    """uvicorn in a thread on a free port; yields the base URL."""
    config = uvicorn.Config(web_app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # a few milliseconds at most
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test web server did not start")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sqlite_only(template: Path, tmp_path: Path) -> BotSettings:
    """BotSettings on a private SQLite copy of the migrated template, for tests about the network whose
    database backend does not matter (they then run once, not once per backend)."""
    path = tmp_path / "slack.db"
    shutil.copy(template, path)
    return BotSettings(
        database_url=f"sqlite:///{path}",
        secret_key="test-secret-key-0123456789",
        secret_key_is_temporary=False,
    )


@contextmanager
def slack_bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    """A fake Slack with the usual people, and the bot pointed at it."""
    with running_fake() as fake:
        add_people(fake)
        with running_slack_bot(settings, clock, fake) as bot:
            yield bot


@contextmanager
def running_slack_bot(settings: BotSettings, clock: ManualClock, fake: FakeSlackAPI) -> Iterator[SlackBot]:
    slack = SlackSettings(bot_token=fake.token or "", signing_secret=SIGNING_SECRET, api_url=fake.url)
    app = build(replace(settings, slack=slack), clock=clock, migrate=False)
    try:
        slack_channel = app.channel(SlackChannel)
        assert slack_channel is not None
        with inbox_worker(app), serve(create_web_app(app, slack_channel.routes())) as base:
            platform = SlackPlatform(f"{base}/slack/events", fake, now=lambda: clock.now().timestamp())
            try:
                yield SlackBot(app, fake, platform, base)
            finally:
                platform.close()
    finally:
        app.close()
