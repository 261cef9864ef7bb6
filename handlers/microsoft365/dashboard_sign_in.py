"""Organisers sign in to the dashboard with their Microsoft account: the OpenID Connect
authorization-code flow with PKCE, through msal.

msal makes the state, the nonce and the PKCE verifier (`initiate_auth_code_flow`), and checks the
state, redeems the code with the verifier and the same redirect URI, and checks the id_token's
issuer, audience, expiry and nonce (`acquire_token_by_auth_code_flow`). Only the OpenID scopes are
asked for: the dashboard needs the person's directory address (`preferred_username`, else `email`),
nothing from Graph. No token is kept.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import msal

from bot.addresses import BadAddress, mailbox
from bot.sign_in import SignInFailed
from handlers.microsoft365.auth import MSAL_FAILURES, confidential_client
from handlers.microsoft365.errors import GraphUnavailable
from handlers.microsoft365.settings import MicrosoftSettings

log = logging.getLogger(__name__)


class MicrosoftDashboardSignIn:
    def __init__(self, settings: MicrosoftSettings) -> None:
        self.settings = settings
        self._app: msal.ConfidentialClientApplication | None = None

    def start(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        try:
            with warnings.catch_warnings():
                # msal recommends form_post; but a cross-site POST back would not carry the
                # SameSite=Lax cookie that holds the flow, while a top-level GET does. The code is
                # worthless without that flow's PKCE verifier, so the query is safe to use.
                warnings.filterwarnings("ignore", "response_mode='form_post' is recommended")
                flow: dict[str, Any] = self._application().initiate_auth_code_flow(
                    [], redirect_uri=redirect_uri, prompt="select_account", response_mode="query"
                )
        except MSAL_FAILURES as exc:
            raise SignInFailed(f"identity provider unavailable ({type(exc).__name__})") from exc
        return str(flow["auth_uri"]), flow

    def finish(self, flow: dict[str, Any], answer: Mapping[str, str]) -> str:
        try:
            result = self._application().acquire_token_by_auth_code_flow(flow, dict(answer))
        except (*MSAL_FAILURES, RuntimeError) as exc:  # msal: ValueError for state, RuntimeError for nonce
            raise SignInFailed(f"sign-in answer refused ({type(exc).__name__})") from exc
        if "error" in result:
            raise SignInFailed(f"sign-in refused ({result.get('error')})")
        claims = result.get("id_token_claims") or {}
        for name in ("preferred_username", "email"):
            try:
                return mailbox(str(claims.get(name) or ""))
            except BadAddress:
                continue
        raise SignInFailed("the id_token names no address")

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            try:
                self._app = confidential_client(self.settings)
            except GraphUnavailable as exc:
                raise SignInFailed(str(exc)) from exc
        return self._app
