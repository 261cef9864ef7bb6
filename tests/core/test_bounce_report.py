"""Reading bounces: RFC 3464 reports from a relay and Exchange Online's non-delivery reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.bounce_report import Bounce, bounces_in

SAMPLES = Path(__file__).parent / "bounce_samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_exchange_online_ndr_is_a_hard_bounce_of_the_original_mail() -> None:
    assert bounces_in(sample("exchange_online_ndr.eml")) == [
        Bounce(
            recipient="ola.nordmann@tidligere-kommune.no",
            hard=True,
            status="5.1.10",
            diagnostic="550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient "
            "ola.nordmann@tidligere-kommune.no not found by SMTP address lookup",
            original_message_id="<0f3c9d2a8e1b7c6d5e4f3a2b1c0d9e8f7a6b5c4d@baerekraft.example.org>",
            reported_at=datetime(2026, 12, 7, 9, 1, 14, tzinfo=UTC),
        )
    ]


def test_a_relays_report_names_the_mail_by_its_returned_headers() -> None:
    (bounce,) = bounces_in(sample("postfix_hard.eml"))
    assert (bounce.recipient, bounce.hard, bounce.status) == ("kari@gammel-kommune.no", True, "5.1.1")
    assert bounce.diagnostic.startswith("550 5.1.1 <kari@gammel-kommune.no>: Recipient address rejected")
    assert bounce.original_message_id == "<9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b@baerekraft.example.org>"


def test_a_delay_is_a_soft_bounce() -> None:
    (bounce,) = bounces_in(sample("postfix_delayed.eml"))
    assert (bounce.recipient, bounce.hard, bounce.status) == ("per@treg-kommune.dk", False, "4.4.1")
    assert bounce.diagnostic.startswith("connect to mx.treg-kommune.dk")
    assert bounce.reported_at == datetime(2026, 12, 8, 13, 5, 40, tzinfo=UTC)  # +0100 in the header


def test_only_the_failed_recipient_of_several_and_its_domain_in_unicode() -> None:
    (bounce,) = bounces_in(sample("two_recipients.eml"))
    assert bounce.recipient == "anne@små-kommune.no"
    assert (bounce.hard, bounce.status) == (True, "5.2.1")
    assert bounce.original_message_id == "<1111222233334444555566667777888899990000@baerekraft.example.org>"


def test_a_reply_that_looks_like_one_is_no_bounce() -> None:
    assert bounces_in(sample("out_of_office.eml")) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not a mail at all\x00\xff",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a\r\n--x--\r\n",
        b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a\r\n\r\n"
        b"Final-Recipient: x400; C=no\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a\r\n\r\n"
        b"Final-Recipient: rfc822; not an address\r\nAction: failed\r\nStatus: 5.1.1\r\n",
    ],
)
def test_broken_or_foreign_reports_give_nothing(raw: bytes) -> None:
    assert bounces_in(raw) == []
