"""`baerekraft-bot run` and `shell`: the bot itself, with its schedule."""

from __future__ import annotations

import getpass
import logging
import signal
import sys
import threading
from types import FrameType

import typer

from bot.app import App, log_channel_state
from bot.cli.common import fail, open_app
from bot.commands import Actor
from bot.delivery.console import ConsoleSender
from bot.mail import ConsoleMailer
from bot.runtime import Runtime
from bot.services.people import is_email, normalise_email
from handlers.console import ConsoleHandler

log = logging.getLogger(__name__)


def _console(app: App, actor: Actor, runtime: Runtime) -> None:
    """Console in the foreground; the rest of the bot runs around it until end of input."""
    lock = threading.Lock()
    app.delivery.add_sender(ConsoleSender(app.renderer, sys.stdout, lock))
    app.mailer = ConsoleMailer(sys.stdout, lock)
    runtime.start()
    try:
        ConsoleHandler(app, actor, sys.stdout, lock).run(sys.stdin, interactive=sys.stdin.isatty())
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()


def _until_signalled(runtime: Runtime) -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runtime.start()
    try:
        stop.wait()
    finally:
        runtime.stop()


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
        _console(app, actor, Runtime(app, serve_web=False))


def run(
    console: bool | None = typer.Option(
        None,
        "--console/--no-console",
        help="Read commands from standard input; by default only when no chat channel is configured.",
    ),
) -> None:
    """Migrate the database and start the bot: web server, every configured channel, the schedule.

    Without Slack or Microsoft credentials this is console mode: you talk to the bot here, and end
    of input stops it. With --no-console (a service) it runs until SIGTERM or Ctrl-C.
    """
    with open_app() as app:
        log_channel_state(app.settings)
        runtime = Runtime(app)
        chat_configured = app.settings.slack is not None or app.settings.microsoft is not None
        if console if console is not None else not chat_configured:
            user = getpass.getuser()
            log.info("console mode: type commands here; try 'hjelp'")
            _console(app, Actor("console", user, name=user, is_operator=True), runtime)
        else:
            _until_signalled(runtime)
