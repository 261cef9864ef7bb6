"""What every CLI command shares: settings, the app, the operator as actor, and clean failures."""

from __future__ import annotations

import functools
import getpass
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn, TextIO, TypeVar

from bot.commands import Actor
from bot.entry.composition import App, Store, build, build_store
from bot.entry.settings import BotSettings, load_settings
from bot.log_privacy import formatter
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.settings import SettingsError

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


@functools.cache
def stderr() -> Console:
    """The console for messages on standard error; rich is loaded when there is one to show (a plain
    `run` that starts well never loads it)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def operator() -> Actor:
    """The local operator: organiser rights everywhere, audited as `cli:<os user>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "operator"
    return Actor(platform="cli", external_id=user, is_operator=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """`message` on standard error, and the command ends with exit code `code` (SystemExit, as Typer's
    Exit becomes: so it ends a command run with or without Typer alike)."""
    stderr().print(message, markup=False)
    raise SystemExit(code)


def setup_logging(level: str, kind: str = "text") -> None:
    """Lines to stderr at `level`, as text or JSON (`kind`), with personal data and credentials
    masked (bot/log_privacy.py)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(kind))
    logging.basicConfig(level=level, handlers=[handler])
    if level != "DEBUG":
        # Their routine INFO lines (each migration step, each job run) drown the bot's own.
        for noisy in ("alembic", "apscheduler", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def read_settings() -> BotSettings:
    """The settings, with logging set up from them; a bad `.env` ends the command (exit 2)."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc), code=2)
    setup_logging(settings.log_level, settings.log_format)
    return settings


@contextmanager
def open_app(
    *, migrate: bool = True, console: TextIO | None = None, settings: BotSettings | None = None
) -> Iterator[App]:
    """The bot, built from the settings; `console`: the terminal of a console session."""
    app = build(settings or read_settings(), migrate=migrate, console=console)
    try:
        yield app
    finally:
        app.close()


@contextmanager
def open_store(*, migrate: bool = True) -> Iterator[Store]:
    """The database and the core's configuration only, for a command that needs no channel."""
    store = build_store(read_settings(), migrate=migrate)
    try:
        yield store
    finally:
        store.close()


def operate(
    app: App | Store,
    fn: Callable[[Ctx], T],
    actor: Actor | None = None,
    hints: Mapping[str, str] | None = None,
) -> T:
    """Run `fn` as one transaction; a refusal is printed from its reply template and exits 1.
    `hints`: by refusal key, a line for the operator naming the flag that would help."""
    try:
        with app.db.transaction() as s:
            return fn(Ctx(s, actor or operator(), app.clock.now(), app.config))
    except UserError as refusal:
        hint = (hints or {}).get(refusal.key)
        fail(refusal_text(app, refusal) + (f"\n{hint}" if hint else ""))


def refusal_text(app: App | Store, refusal: UserError) -> str:
    return app.renderer.render(
        f"replies/{refusal.key}.txt",
        refusal.data,
        language=app.settings.language,
        timezone=app.settings.timezone,
    )
