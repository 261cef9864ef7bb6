"""App Home published where it is seen, one at a time, within Slack's limit, beside the inbox worker.

views.publish is Tier 4 (about 100 a minute). After a burst of clicks, publishing the Home of every
clicker would meet 429s and hold the worker, for Homes most of them never look at. So the Home is
published when a user opens the tab (`app_home_opened`), and after a command only for a user whose
Home is seen: one who opened it before (remembered in SQL: `SlackHome`, across processes and
restarts, gone with an erasure) or who acted on it. Requests wait in one queue, one per user however
many of their commands finish meanwhile, and a thread of their own publishes them within a budget; a
429 holds it back for Retry-After and the Home is tried again later (at most ATTEMPTS times; the next
opening publishes it anyway). A stop publishes what is queued when the budget allows, and drops the rest.

Whether a Home is seen is read from SQL, never remembered in a process (another process may erase the
person meanwhile), and not by the thread that answered a command: the publishing thread asks once for
every Home queued since it last asked, one statement however many commands a burst finished.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, bindparam, select

from bot.clock import Clock
from bot.db import Database, in_runs, insert_ignoring
from bot.error_policy import ErrorPolicy
from handlers.slack.budget import Budget
from handlers.slack.identity import SlackUser
from handlers.slack.models import SlackHome
from handlers.slack.web_api import SlackCallFailed, SlackUnreachable, SlackWebAPI

log = logging.getLogger(__name__)

ATTEMPTS = 3  # tries of one Home that met a 429
STOP_SECONDS = 10.0  # how long a stop waits for the publish under way
LOOK_AGAIN_SECONDS = 1.0  # while held back, the budget is looked at again this often (on the bot's clock)

HOME = cast(Table, SlackHome.__table__)
_REMEMBER = insert_ignoring(HOME, "user_id")
# Asked for the Homes queued after commands: built once, run on a plain connection (no ORM session).
_SEEN = select(HOME.c.user_id).where(HOME.c.user_id.in_(bindparam("users", expanding=True)))
SEEN_BATCH = 500  # users asked about at a time (in runs of up to 64, one statement each: `_seen_among`)


class HomePublisher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        api: SlackWebAPI,
        view: Callable[[SlackUser], dict[str, Any]],
        errors: ErrorPolicy,
        budget: Budget | None = None,
    ) -> None:
        self.db, self.clock, self.api, self.view, self.errors = db, clock, api, view, errors
        self.budget = budget or Budget(clock)
        self._queue: OrderedDict[str, tuple[SlackUser, int]] = OrderedDict()  # user id → (user, tries)
        self._unchecked: dict[str, None] = {}  # queued users not yet known to be seen (in queue order)
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # --- what the channel asks for ----------------------------------------------------------------

    def opened(self, user: SlackUser) -> None:
        """`user` opened the App Home tab: remembered, and their Home published."""
        self._remember(user.user_id)
        self._request(user)

    def refresh(self, user: SlackUser, *, on_home: bool = False) -> None:
        """After a command of `user`: their Home published again if it is seen (`on_home`: they
        acted on the Home tab itself), which the publishing thread looks up."""
        if on_home:
            self._remember(user.user_id)
        self._request(user, seen=on_home)

    def seen(self, user_id: str) -> bool:
        return user_id in self._seen_among([user_id])

    def close(self) -> None:
        """Publish what is queued while the budget allows (drop the rest), then stop the thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(STOP_SECONDS)

    # --- the queue ----------------------------------------------------------------------------------

    def _remember(self, user_id: str) -> None:
        with self.db.transaction() as s:
            s.execute(
                _REMEMBER[s.get_bind().dialect.name].values(user_id=user_id, opened_at=self.clock.now())
            )

    def _request(self, user: SlackUser, tries: int = 0, *, seen: bool = True) -> None:
        """Queue `user`'s Home (`seen`: known to be seen; else the thread looks it up first)."""
        with self._changed:
            if self._stopping and self._thread is None:
                return
            queued = self._queue.get(user.user_id)
            self._queue[user.user_id] = (user, max(tries, queued[1] if queued else 0))
            if seen:
                self._unchecked.pop(user.user_id, None)
            elif queued is None:
                self._unchecked[user.user_id] = None
            if self._thread is None:  # made on the first request: in the worker process, after a fork
                self._thread = threading.Thread(target=self._run, name="slack-home", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def _run(self) -> None:
        while (next_one := self._next()) is not None:
            if isinstance(next_one, list):
                self._check(next_one)
                continue
            user, tries = next_one
            with self.errors.guard("Slack App Home"):
                self._publish(user, tries)

    def _next(self) -> tuple[SlackUser, int] | list[str] | None:
        """The users queued whose Home is to be looked up first, else the next Home to publish once
        the budget allows; None when stopped (and done)."""
        with self._changed:
            while True:
                if not self._queue:
                    if self._stopping:
                        return None
                    self._changed.wait()
                    continue
                if self._unchecked:
                    return list(self._unchecked)[:SEEN_BATCH]
                wait = self.budget.wait()
                if wait > 0.0:
                    if self._stopping:
                        log.info("Slack App Home: %d not published at the stop", len(self._queue))
                        self._queue.clear()
                        return None
                    self._changed.wait(min(wait, LOOK_AGAIN_SECONDS))
                    continue
                self.budget.take()
                return self._queue.popitem(last=False)[1]

    def _check(self, users: list[str]) -> None:
        """Keep in the queue those of `users` whose Home is seen (all dropped if the database fails)."""
        seen: set[str] = set()
        with self.errors.guard("Slack App Home"):
            seen = self._seen_among(users)
        with self._changed:
            for user_id in users:
                if user_id in self._unchecked:  # not since requested as seen
                    del self._unchecked[user_id]
                    if user_id not in seen:
                        self._queue.pop(user_id, None)

    def _seen_among(self, users: list[str]) -> set[str]:
        # In runs of a few sizes: each length of the IN list is a statement of its own, kept prepared
        # (bot/db.py, `in_runs`).
        with self.db.engine.connect() as conn:
            return {user for run in in_runs(users) for user in conn.scalars(_SEEN, {"users": run})}

    def _publish(self, user: SlackUser, tries: int) -> None:
        try:
            self.api.call("views.publish", {"user_id": user.user_id, "view": self.view(user)})
        except SlackCallFailed as exc:
            if exc.status != 429:
                log.warning("Slack views.publish failed: %s", exc.error)
            elif tries + 1 < ATTEMPTS:
                self.budget.hold(exc.retry_after)
                self._request(user, tries + 1)
            else:
                self.budget.hold(exc.retry_after)
                log.warning("Slack views.publish rate limited %d times: App Home not published", ATTEMPTS)
        except SlackUnreachable as exc:
            log.warning("Slack views.publish unreachable: %s", exc.reason)
