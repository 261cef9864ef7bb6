"""The web channel's settings: the abuse guard of its forms, and how long a dashboard sign-in lasts."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Reader, positive_int


@dataclass(frozen=True)
class WebSettings:
    """Confirmation and erase mails the forms may send per hour; an organiser's dashboard session
    ends after `dashboard_idle_minutes` without a request, and `dashboard_session_hours` after
    sign-in whatever happens."""

    mails_per_address_per_hour: int = 3
    mails_per_client_per_hour: int = 20
    dashboard_idle_minutes: int = 30
    dashboard_session_hours: int = 12


def web_settings(r: Reader) -> WebSettings:
    return WebSettings(
        mails_per_address_per_hour=r.parsed(
            "WEB_MAILS_PER_ADDRESS_PER_HOUR", 3, positive_int, "a positive whole number"
        ),
        mails_per_client_per_hour=r.parsed(
            "WEB_MAILS_PER_CLIENT_PER_HOUR", 20, positive_int, "a positive whole number"
        ),
        dashboard_idle_minutes=r.parsed(
            "DASHBOARD_IDLE_MINUTES", 30, positive_int, "a positive whole number of minutes"
        ),
        dashboard_session_hours=r.parsed(
            "DASHBOARD_SESSION_HOURS", 12, positive_int, "a positive whole number of hours"
        ),
    )
