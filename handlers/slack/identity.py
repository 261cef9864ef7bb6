"""Who a Slack user is: users.info (scopes users:read, users:read.email) → an `Actor`, cached briefly.

users.info is Tier 4 (about 100 calls a minute), so answers are kept for ten minutes, and calls are
made within a budget of that tier (`budget.py`). A command never waits for Slack's limit: without
budget, or on a 429, it acts on the user id alone at once, and the profile is asked for on a later
request (that is not remembered as a failure). An organiser's form may wait a little
(`patient`): whether they may organise can hang on the e-mail. The e-mail comes from the workspace
profile, which Slack has verified; with it the core joins this Slack account to the same person on
other channels. The locale gives the language, `tz` the time zone for App Home.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.commands import Actor
from bot.expiring import ExpiringCache
from bot.languages import from_tag
from handlers.slack.budget import Budget
from handlers.slack.web_api import SlackCallFailed, SlackUnreachable, SlackWebAPI

log = logging.getLogger(__name__)

KEEP = timedelta(minutes=10)
KEEP_FAILURE = timedelta(minutes=1)
MAX_ENTRIES = 5000
PATIENCE_SECONDS = 10.0  # the longest a `patient` lookup waits for Slack's limit
LIMITED = "rate limited"  # a lookup Slack refused for its rate limit (or the budget had no call)


@dataclass(frozen=True)
class SlackUser:
    user_id: str
    name: str | None = None
    email: str | None = None
    language: str | None = None
    timezone: str | None = None

    def actor(self) -> Actor:
        return Actor("slack", self.user_id, email=self.email, name=self.name, language=self.language)


def language_of(locale: str | None) -> str | None:
    """Slack's locale (`nb-NO`, `da-DK`, `en-GB`, ...) to one of the bot's languages, else None."""
    return from_tag(locale)


def user_from_info(user: dict[str, object], user_id: str) -> SlackUser:
    """users.info's `user` object to a `SlackUser`; missing fields stay None."""
    profile = user.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    email = profile.get("email")
    name = profile.get("real_name") or user.get("real_name") or user.get("name")
    locale = user.get("locale")
    tz = user.get("tz")
    return SlackUser(
        user_id=user_id,
        name=str(name) if name else None,
        email=str(email).strip().lower() if email else None,
        language=language_of(str(locale)) if locale else None,
        timezone=str(tz) if tz else None,
    )


class SlackDirectory:
    """users.info with a short cache, within a budget; a failed lookup gives a user known only by
    id. A user Slack shows as deactivated is told to `on_deactivated`."""

    def __init__(
        self,
        api: SlackWebAPI,
        clock: Clock,
        *,
        on_deactivated: Callable[[str], None] | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.api, self.clock = api, clock
        self.on_deactivated = on_deactivated
        self.budget = budget or Budget(clock)
        self._cache: ExpiringCache[str, SlackUser] = ExpiringCache(MAX_ENTRIES)

    def user(
        self,
        user_id: str,
        fallback_name: str | None = None,
        *,
        allow_stale: bool = False,
        patient: bool = False,
    ) -> SlackUser:
        """The user, from the cache when fresh (or at all, with `allow_stale`: for a modal submission,
        which must be answered within 3 s), else from users.info; by id alone when Slack's limit is
        reached (`patient`: after waiting up to PATIENCE_SECONDS for it)."""
        now = self.clock.now()
        cached = self._cache.get(user_id) if allow_stale else self._cache.fresh(user_id, now)
        if cached is not None:
            return cached[1]
        found = self._within_budget(user_id, PATIENCE_SECONDS if patient else 0.0)
        if found is LIMITED:
            return SlackUser(user_id, name=fallback_name)  # not cached: asked again next time
        keep = KEEP if found is not None else KEEP_FAILURE
        user = found if isinstance(found, SlackUser) else SlackUser(user_id, name=fallback_name)
        self._cache.put(user_id, user, now + keep)
        return user

    def actor(self, user_id: str, fallback_name: str | None = None) -> Actor:
        return self.user(user_id, fallback_name).actor()

    def _within_budget(self, user_id: str, patience: float) -> SlackUser | str | None:
        """users.info when the budget has a call, else LIMITED (waiting up to `patience` seconds)."""
        while True:
            if self.budget.take():
                found = self._lookup(user_id)
                if found is not LIMITED:
                    return found
            wait = self.budget.wait()
            if wait > patience:
                return LIMITED
            patience -= wait
            self.clock.sleep(wait)

    def _lookup(self, user_id: str) -> SlackUser | str | None:
        try:
            response = self.api.call("users.info", {"user": user_id, "include_locale": True})
        except SlackCallFailed as exc:
            if exc.status == 429:
                self.budget.hold(exc.retry_after)
                log.info("Slack users.info rate limited: acting on the user id alone")
                return LIMITED
            log.warning("Slack users.info failed (%s): acting on the user id alone", exc.error)
            return None
        except SlackUnreachable as exc:
            log.warning("Slack users.info unreachable (%s): acting on the user id alone", exc.reason)
            return None
        user = response.get("user")
        if isinstance(user, dict) and user.get("deleted") and self.on_deactivated is not None:
            self.on_deactivated(user_id)
        if not isinstance(user, dict) or user.get("is_bot") or user.get("deleted"):
            return None
        return user_from_info(user, user_id)
