"""`baerekraft-bot run` and `shell` carried out: the bot itself, with its schedule.

Without Typer (`bot/entry/cli/runtime.py` declares the two commands for it): a plain `run` is started
from here directly (`bot.entry.cli.main`), so the bot's processes never load Typer, pydantic or rich.
"""

from __future__ import annotations

import contextlib
import faulthandler
import getpass
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from sqlalchemy.orm import configure_mappers

from bot.commands import Actor
from bot.entry.cli.common import fail, open_app, read_settings
from bot.entry.cli.secret_key import for_console
from bot.entry.composition import App, log_channel_state
from bot.entry.runtime import Role, Runtime, log_unreached
from bot.entry.send_metrics import share_between_processes
from bot.entry.server import WebServerError
from bot.entry.settings import BotSettings
from bot.entry.worker_process import (
    STOP_TIMEOUT,
    WorkerEnds,
    WorkerProcess,
    listen,
    lower_priority,
    started_idle,
)
from bot.memory import limit_malloc_arenas
from bot.services.people import is_email, normalise_email
from bot.settings import LANGUAGES
from handlers.console.channel import ConsoleChannel

log = logging.getLogger(__name__)

# Python runs a signal's handler in the main thread, but the kernel may hand a signal sent to the
# process to any thread (under load, often to one already running): an untimed wait in the main
# thread is then never woken and the handler never runs. Waiting in slices runs it within one, and
# sees within one what it noted (`_stop_signals`).
SIGNAL_SLICE_SECONDS = 0.25
HANDOVER_SECONDS = 10.0  # for the worker to read the last acked requests the front handed over


def _console(app: App, actor: Actor, runtime: Runtime) -> None:
    """Console in the foreground; the rest of the bot runs around it until end of input."""
    console = app.channel(ConsoleChannel)
    assert console is not None, "built without its console"
    runtime.start()
    try:
        console.handler(actor).run(sys.stdin, interactive=sys.stdin.isatty())
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()


def _until_signalled(runtime: Runtime, worker: WorkerProcess | None = None) -> int:
    """Run until SIGTERM or Ctrl-C (exit 0), or until the worker process dies (exit 1)."""
    stop = threading.Event()
    code = 0

    def on_worker_exit(exit_code: int) -> None:
        nonlocal code
        code = 1
        log.error(
            "the worker process stopped (exit %s): stopping, for the service manager to restart", exit_code
        )
        stop.set()

    signalled = _stop_signals()
    if worker is not None:
        worker.watch(on_worker_exit)
    try:
        runtime.start()
    except WebServerError as exc:
        log.error("%s: is another program using PORT?", exc)
        code = 1
        stop.set()
    try:
        _wait_for(stop, signalled)
        if signalled:
            log.info("signal %s: stopping", signalled[0])
    finally:
        runtime.stop()
        if worker is not None:
            worker.stop()
    return code


def _stop_signals() -> list[int]:
    """SIGTERM and SIGINT (Ctrl-C reaches the whole process group), from now on only noted in the
    list returned; `_wait_for` looks at it after each slice.

    Why the handler does not set the Event the main thread waits on: Python runs it in the main
    thread between two bytecodes, also while that thread's `Event.wait` holds the Event's lock (not
    reentrant), as it does for a moment whenever a wait returns; `set` then waits for a lock its
    own thread holds, for good. The worker process, whose main thread the end of the nudges pipe
    wakes just before the front's SIGTERM comes, hung so until the front killed it after
    STOP_TIMEOUT. Appending to a list takes no lock; nor does the handler log (logging takes locks)."""
    signalled: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        signalled.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, note)
    return signalled


def _wait_for(stop: threading.Event, signalled: list[int]) -> None:
    """Until `stop` is set (by another thread) or a stop signal is noted in `signalled` (see
    SIGNAL_SLICE_SECONDS)."""
    while not signalled and not stop.wait(SIGNAL_SLICE_SECONDS):
        pass


def _worker_main(app: App, ends: WorkerEnds) -> int:
    """The forked worker process: the inbox worker and the senders, until SIGTERM or the parent's end."""
    stop = threading.Event()  # set at the end of the nudges pipe (the front stops, or is gone)
    signalled = _stop_signals()
    priority = lower_priority(app.settings.worker_nice)
    start_commands = started_idle if app.settings.worker_idle else (lambda start: start())
    if app.settings.worker_idle:
        priority = f"carrying out requests idle, sending {priority}"
    # Here rather than in the front (see there), and before the worker's threads start: the passing
    # objects of reading every subscriber then fill memory that is wholly freed and handed back, not
    # pools that the threads' long-lived objects, made meanwhile, keep (about 2.5 MB less). Nudges
    # that come meanwhile wait in the pipe.
    log_unreached(app)
    runtime = Runtime(app, role=Role.WORKER, start_commands=start_commands)
    runtime.start()
    assert runtime.inbox_worker is not None
    receiver = start_commands(lambda: app.inbox.receive(ends.requests))
    listen(ends.nudges, runtime.inbox_worker.wake, app.delivery.wake, app.delivery.weigh_caps_soon, stop.set)
    log.info("worker process %s: carrying out requests and sending (CPU priority: %s)", os.getpid(), priority)
    try:
        _wait_for(stop, signalled)
    finally:
        # A stop that hangs leaves every thread's stack in the log before the front's SIGKILL comes.
        faulthandler.dump_traceback_later(STOP_TIMEOUT - 5, exit=False)
        # The front ended its stream of acked requests before it asked us to stop (or it is gone):
        # read them all, for `app.close` to record them, before anything stops.
        if not receiver.join(HANDOVER_SECONDS):
            log.warning(
                "the front's acked requests still coming after %.0f s: the front records the rest",
                HANDOVER_SECONDS,
            )
        runtime.stop()
        app.close()
        faulthandler.cancel_dump_traceback_later()
    return 0


def _service(app: App) -> int:
    """As a service: the front here, the work in a forked worker process (unless WORKER_PROCESS=false)."""
    if app.settings.worker_process:
        app.db.engine.dispose()  # no pooled connection may be shared by the two processes
        configure_mappers()  # likewise the ORM's mapper set-up (else done at each side's first query)
        worker = WorkerProcess.fork(lambda ends: _worker_main(app, ends))
        if worker is not None:
            assert worker.handover is not None
            app.inbox.hand_over(worker.handover)
            return _until_signalled(Runtime(app, role=Role.FRONT, nudges=worker.nudger), worker)
        log.warning("cannot fork a worker process here: running everything in one process")
    return _until_signalled(Runtime(app))


@contextlib.contextmanager
def _metrics_shared(forks: bool) -> Iterator[None]:
    """When a worker process will send, its metrics reach the front's /metrics through files in a
    folder of this run's own (removed at the end; the service manager gives a new run a new one)."""
    if not forks:
        yield
        return
    try:
        shared = tempfile.TemporaryDirectory(prefix="baerekraft-metrics-")
    except OSError as exc:
        log.warning(
            "cannot make a folder for the worker's metrics (%s): /metrics shows the front's only; "
            "give the service a writable TMPDIR (now %s)",
            exc.strerror or exc,
            os.environ.get("TMPDIR", "unset: /tmp"),
        )
        yield
        return
    with shared as folder:
        share_between_processes(Path(folder))
        yield


def _console_settings(settings: BotSettings) -> BotSettings:
    try:
        return for_console(settings)
    except (OSError, ValueError) as exc:
        fail(f"SECRET_KEY is not set and the kept key cannot be used: {exc}", code=2)


def talk(as_: str, name: str | None, organiser: bool, language: str | None) -> None:
    """`shell`: talk to the bot on standard input, interactively or through a pipe."""
    if not is_email(as_.strip()):
        fail(f"--as: {as_!r} is not an e-mail address")
    if language is not None and language not in LANGUAGES:
        fail(f"--language: {language!r} is not a language the bot speaks; use one of {', '.join(LANGUAGES)}")
    email = normalise_email(as_)
    actor = Actor("console", email, email=email, name=name, language=language, is_operator=organiser)
    with open_app(console=sys.stdout, settings=_console_settings(read_settings())) as app:
        _console(app, actor, Runtime(app, serve_web=False))


def run(console: bool | None) -> None:
    """`run`: migrate the database and start the bot (console mode when `console`, or by default when
    no chat channel is configured); a service ends with exit code 1 when its worker process died."""
    limit_malloc_arenas()  # before any thread starts; the forked worker inherits it
    settings = read_settings()
    as_console = console if console is not None else not settings.chat_configured
    if as_console:
        settings = _console_settings(settings)
    elif settings.secret_key_is_temporary:
        fail(
            "SECRET_KEY is not set: a service needs a fixed key, or the links in its mails stop "
            "working at the next restart. Make one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' and set SECRET_KEY in .env.",
            code=2,
        )
    forks = not as_console and settings.worker_process
    with (
        _metrics_shared(forks),
        open_app(settings=settings, console=sys.stdout if as_console else None) as app,
    ):
        log_channel_state(app.settings)
        if as_console:
            user = getpass.getuser()
            log.info("console mode: type commands here; try 'hjelp'")
            _console(app, Actor("console", user, name=user, is_operator=True), Runtime(app))
        else:
            code = _service(app)
            if code:
                raise SystemExit(code)
