"""Signing in with another platform's accounts (Microsoft Entra ID), as the core sees it: the
platform's channel implements it (handlers/microsoft365/dashboard_sign_in.py), the composition root
hands it to the web channel's dashboard, so the web pages import no platform library."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class SignInFailed(Exception):
    """The platform did not sign the person in (refused, cancelled, a tampered or stale answer)."""


class ExternalSignIn(Protocol):
    def start(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """Where to send the browser, and the flow to keep until it comes back (state, nonce, PKCE)."""
        ...

    def finish(self, flow: dict[str, Any], answer: Mapping[str, str]) -> str:
        """The directory address of the person who signed in; raises SignInFailed."""
        ...
