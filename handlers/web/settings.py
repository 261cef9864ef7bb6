"""The web channel's settings: the abuse guard of its forms."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Reader, positive_int


@dataclass(frozen=True)
class WebSettings:
    """Confirmation and erase mails the forms may send per hour."""

    mails_per_address_per_hour: int = 3
    mails_per_client_per_hour: int = 20


def web_settings(r: Reader) -> WebSettings:
    return WebSettings(
        mails_per_address_per_hour=r.parsed(
            "WEB_MAILS_PER_ADDRESS_PER_HOUR", 3, positive_int, "a positive whole number"
        ),
        mails_per_client_per_hour=r.parsed(
            "WEB_MAILS_PER_CLIENT_PER_HOUR", 20, positive_int, "a positive whole number"
        ),
    )
