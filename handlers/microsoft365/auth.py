"""Tokens from msal: app-only (client credentials) and the delegated service account (device code).

App-only tokens do calendar, mail, the activity feed and the directory. Graph lets only a signed-in
user post to a Teams channel or chat, so `teams login` signs a service account in once with the
device-code flow; its msal cache (refresh token included) is kept encrypted in the database and later
tokens come silently.

Only `invalid_grant` (expired, revoked) and `interaction_required` (MFA, Conditional Access) mean the
login is gone: that is logged once, stored for `teams status` and /healthz, and the delegated work
waits for `teams login` while the app-only work goes on. Anything else (AADSTS90033
`temporarily_unavailable`, a 5xx on which msal raises `MsalServiceError`, no answer) is transient: it
is reported the same way, the delegated token is not asked for again until a back-off has passed, and
the first token that comes clears it. No msal exception leaves this module: each becomes a
`GraphUnavailable` (try again later) or `GraphAuthError`/`LoginNeeded` (an operator must act).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

import msal
import requests

from bot.clock import Clock
from handlers.microsoft365.client import Auth
from handlers.microsoft365.errors import GraphAuthError, GraphUnavailable, Health, LoginNeeded
from handlers.microsoft365.login_store import LoginStore, UnreadableSecret
from handlers.microsoft365.settings import MicrosoftSettings

log = logging.getLogger(__name__)

# What the service account is asked to consent to (delegated permissions).
DELEGATED = ("ChannelMessage.Send", "ChannelMessage.Read.All", "Chat.ReadWrite", "User.Read")
TIMEOUT = 30
# The only answers that mean the service account's login is gone; every other error is transient.
LOGIN_GONE = frozenset({"invalid_grant", "interaction_required"})
# The app's own credentials or registration are wrong: an operator must act (other errors pass).
APP_REFUSED = frozenset({"invalid_client", "unauthorized_client", "invalid_scope", "invalid_resource"})
# What msal raises: its own errors (MsalServiceError on a 5xx), requests' network and TLS errors, and
# ValueError (an answer that is not JSON, or a malformed OpenID configuration).
MSAL_FAILURES = (msal.exceptions.MsalError, requests.RequestException, ValueError)
FIRST_WAIT, LONGEST_WAIT = timedelta(seconds=30), timedelta(minutes=10)
SIGN_IN = "sign-in"  # the Health area of the app's own token


def graph_resource(settings: MicrosoftSettings) -> str:
    """The token audience: Graph's origin (https://graph.microsoft.com, or a national cloud's)."""
    parts = urlsplit(settings.graph_api_url)
    return f"{parts.scheme}://{parts.netloc}"


def authority(settings: MicrosoftSettings) -> str:
    return f"{settings.authority_host}/{settings.tenant_id}"


def _reason(result: dict[str, Any]) -> str:
    """The error code and the first line of its description: no tokens, no secrets."""
    description = str(result.get("error_description") or "").splitlines()
    return f"{result.get('error', 'error')}: {description[0][:200] if description else ''}".strip(": ")


def _unavailable(exc: Exception) -> GraphUnavailable:
    """An exception from msal as a transient failure, named without a traceback or a secret."""
    detail = str(exc).splitlines()[0][:120] if isinstance(exc, msal.exceptions.MsalError) else ""
    text = f"identity provider unavailable ({type(exc).__name__}{': ' + detail if detail else ''})"
    return GraphUnavailable(text)


def confidential_client(settings: MicrosoftSettings) -> msal.ConfidentialClientApplication:
    """The app's own msal client (its id and secret), for app-only tokens and the dashboard sign-in.
    msal reads the OpenID configuration here: a network, TLS or JSON failure is a GraphUnavailable."""
    try:
        return msal.ConfidentialClientApplication(
            settings.client_id,
            client_credential=settings.client_secret,
            authority=authority(settings),
            instance_discovery=False,
            timeout=TIMEOUT,
        )
    except MSAL_FAILURES as exc:
        raise _unavailable(exc) from exc


class AppAuth:
    """Client-credentials tokens; msal caches them until shortly before they expire."""

    def __init__(self, settings: MicrosoftSettings, health: Health | None = None) -> None:
        self.settings = settings
        self.health = health or Health()
        self.scopes = [f"{graph_resource(settings)}/.default"]
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def token(self, refresh: bool = False) -> str:
        try:
            with self._lock:
                app = self._application()
                if refresh:
                    app.remove_tokens_for_client()
                try:
                    result = app.acquire_token_for_client(scopes=self.scopes)
                except MSAL_FAILURES as exc:
                    raise _unavailable(exc) from exc
            if "access_token" not in result:
                reason = _reason(result)
                if result.get("error") in APP_REFUSED:
                    raise GraphAuthError(f"the identity provider refused the app's credentials ({reason})")
                raise GraphUnavailable(f"identity provider unavailable for now ({reason})")
        except (GraphUnavailable, GraphAuthError) as exc:
            self.health.report(SIGN_IN, f"app-only token: {exc}")
            raise
        self.health.clear(SIGN_IN)
        return str(result["access_token"])

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            self._app = confidential_client(self.settings)
        return self._app


class DelegatedAuth:
    """The service account's tokens, from the stored cache; reloaded when another process saved it."""

    def __init__(self, settings: MicrosoftSettings, store: LoginStore, clock: Clock) -> None:
        self.settings, self.store, self.clock = settings, store, clock
        self.scopes = [f"{graph_resource(settings)}/{name}" for name in DELEGATED]
        self.cache = msal.SerializableTokenCache()
        self.user_id: str | None = None
        self._version: int | None = None
        self._app: msal.PublicClientApplication | None = None
        self._reported: str | None = None
        self._dead_version: int | None = None
        self._failures = 0  # transient failures in a row
        self._retry_at: datetime | None = None  # no token request before then (backing off)
        self._lock = threading.Lock()

    def token(self, refresh: bool = False) -> str:
        with self._lock:
            self._reload()
            if self._reported is not None and self._dead_version == self._version:
                raise LoginNeeded(self._reported)  # known dead until a new login is stored
            if self._retry_at is not None and self.clock.now() < self._retry_at:
                raise GraphUnavailable(f"{self._reported}; next try at {self._retry_at:%H:%M:%S}")
            try:
                app = self._application()
                accounts = app.get_accounts()
                if not accounts:
                    self._problem("no Teams login stored: run `baerekraft-bot teams login`")
                result = app.acquire_token_silent_with_error(self.scopes, accounts[0], force_refresh=refresh)
            except MSAL_FAILURES as exc:
                self._transient(str(_unavailable(exc)))
            except GraphUnavailable as exc:  # from _application: the OpenID configuration
                self._transient(str(exc))
            if not result:
                self._problem("the Teams login has no usable refresh token: run `baerekraft-bot teams login`")
            if "access_token" not in result:
                if result.get("error") in LOGIN_GONE:
                    self._problem(
                        f"the Teams login expired or was revoked ({_reason(result)}): "
                        "run `baerekraft-bot teams login`"
                    )
                self._transient(f"identity provider unavailable for now ({_reason(result)})")
            self._save_if_changed()
            self._recovered()
            return str(result["access_token"])

    def start_device_login(self) -> dict[str, Any]:
        """Begin a device-code login with an empty cache; the flow's `message` says what to do."""
        with self._lock:
            self.cache = msal.SerializableTokenCache()
            self._app, self._version = None, None
            try:
                flow: dict[str, Any] = self._application().initiate_device_flow(scopes=self.scopes)
            except MSAL_FAILURES as exc:
                raise _unavailable(exc) from exc
        if "user_code" not in flow:
            raise GraphAuthError(f"the identity provider refused the device login ({_reason(flow)})")
        return flow

    def finish_device_login(self, flow: dict[str, Any]) -> str:
        """Wait for the user to finish signing in; store the cache; returns the account's name."""
        try:
            result = self._application().acquire_token_by_device_flow(flow)
        except MSAL_FAILURES as exc:
            raise _unavailable(exc) from exc
        if "access_token" not in result:
            raise GraphAuthError(f"the Teams login did not succeed ({_reason(result)})")
        claims = result.get("id_token_claims") or {}
        username = claims.get("preferred_username") or claims.get("name")
        user_id = claims.get("oid")
        with self._lock:
            self._version = self.store.save_login(self.cache.serialize(), username, user_id)
            self.cache.has_state_changed = False
            self.user_id, self._reported = user_id, None
            self._failures, self._retry_at = 0, None
        log.info("Teams: logged in as %s", username)
        return str(username)

    def _reload(self) -> None:
        version = self.store.version()
        if version is None or version == self._version:
            return
        try:
            stored = self.store.load()
        except UnreadableSecret as exc:
            self._problem(f"{exc}: run `baerekraft-bot teams login` again")
        if stored is not None:
            self.cache.deserialize(stored.cache)
            self._version, self.user_id = stored.version, stored.user_id

    def _save_if_changed(self) -> None:
        if self.cache.has_state_changed:
            version = self.store.save_cache(self.cache.serialize())
            self.cache.has_state_changed = False
            self._version = version if version is not None else self._version

    def _problem(self, problem: str) -> NoReturn:
        """Report once (log + stored state), then raise: the delegated work waits for a new login."""
        self._dead_version = self._version
        self._failures, self._retry_at = 0, None
        if problem != self._reported:
            self._reported = problem
            log.error("Teams: %s. Posting to Teams and reading commands from it wait until then.", problem)
            self.store.report_problem(problem)
        raise LoginNeeded(problem)

    def _transient(self, reason: str) -> NoReturn:
        """The identity provider failed for now: report once, back off (30 s doubling to 10 min),
        then raise; the next token request after the wait tries again, with the same login."""
        self._failures, self._dead_version = self._failures + 1, None
        wait = min(FIRST_WAIT * 2 ** (self._failures - 1), LONGEST_WAIT)
        self._retry_at = self.clock.now() + wait
        problem = f"Teams sign-in failing for now ({reason}); retrying by itself"
        if problem != self._reported:
            self._reported = problem
            log.warning("Teams: %s. Posting to Teams and reading commands from it wait meanwhile.", problem)
            self.store.report_problem(problem, transient=True)
        raise GraphUnavailable(problem)

    def _recovered(self) -> None:
        self._failures, self._retry_at = 0, None
        if self._reported is not None:
            log.info("Teams: the login works again")
            self._reported = None
            self.store.clear_problem()

    def _application(self) -> msal.PublicClientApplication:
        if self._app is None:
            try:
                self._app = msal.PublicClientApplication(
                    self.settings.client_id,
                    authority=authority(self.settings),
                    token_cache=self.cache,
                    instance_discovery=False,
                    timeout=TIMEOUT,
                )
            except MSAL_FAILURES as exc:  # network, TLS or a malformed OpenID configuration
                raise _unavailable(exc) from exc
        return self._app


class GraphTokens:
    """The client's token source: app-only or delegated, as each call asks."""

    def __init__(self, app: AppAuth, user: DelegatedAuth) -> None:
        self.app, self.user = app, user

    def token(self, auth: Auth, *, refresh: bool = False) -> str:
        return self.app.token(refresh) if auth is Auth.APP else self.user.token(refresh)
