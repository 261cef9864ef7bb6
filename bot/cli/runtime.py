"""`baerekraft-bot run` and `shell`: the bot itself, with its schedule."""

from __future__ import annotations

import getpass
import logging
import sys
import threading

import typer
from apscheduler.schedulers.background import BackgroundScheduler

import jobs
from bot.app import App, log_channel_state
from bot.cli.common import fail, open_app
from bot.commands import Actor
from bot.outbound import ConsoleAnnouncer
from bot.services.people import is_email, normalise_email
from handlers.console import ConsoleHandler

log = logging.getLogger(__name__)


def _start_scheduler(app: App) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs.register(scheduler, app)
    scheduler.start()
    return scheduler


def _console(app: App, actor: Actor) -> None:
    lock = threading.Lock()
    app.announcers.append(ConsoleAnnouncer(sys.stdout, lock))
    scheduler = _start_scheduler(app)
    try:
        ConsoleHandler(app, actor, sys.stdout, lock).run(sys.stdin, interactive=sys.stdin.isatty())
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=False)


def shell(
    as_: str = typer.Option(..., "--as", help="Your e-mail address: who you are in this shell."),
    name: str | None = typer.Option(None, "--name", help="Your name."),
    organiser: bool = typer.Option(
        False, "--organiser", help="Act with organiser rights in every series (local operator)."
    ),
    language: str | None = typer.Option(None, "--language", help="nb or en (default: the series')."),
) -> None:
    """Talk to the bot on standard input, interactively or through a pipe."""
    if not is_email(as_.strip()):
        fail(f"--as: {as_!r} is not an e-mail address")
    email = normalise_email(as_)
    actor = Actor("console", email, email=email, name=name, language=language, is_operator=organiser)
    with open_app() as app:
        _console(app, actor)


def run() -> None:
    """Migrate the database and start the bot with every configured channel.

    Without Slack or Microsoft credentials this is console mode: you talk to the bot here.
    """
    with open_app() as app:
        log_channel_state(app.settings)
        user = getpass.getuser()
        log.info("console mode: type commands here; try 'hjelp'")
        actor = Actor("console", user, name=user, is_operator=True)
        _console(app, actor)
