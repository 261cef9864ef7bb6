"""The SMTP channel: mail through any SMTP relay, for networks without Microsoft 365. Its settings
(`settings.py`), the transport (`transport.py`, the standard library's smtplib), and the channel as
the core sees it (`channel.py`): the mail sender ("smtp") of the delivery engine (bot/mail_delivery.py:
the mail is the invitation, with its `.ics` as a meeting request) and the mail transport of the
web pages' confirmation mails."""

from pathlib import Path

# What the registry (bot/entry/channels.py) knows without importing the channel and its libraries.
NAME = "smtp"
TEMPLATES: Path | None = Path(__file__).resolve().parent / "templates"  # what to do when it pauses
ERASE = None  # its part of an erasure: nothing of its own: it stores no table
