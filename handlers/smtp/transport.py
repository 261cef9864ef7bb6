"""One mail to one address through an SMTP relay (smtplib), each outcome told in the delivery
engine's terms.

A connection per mail (at 30 a minute the handshake is a small part of the time), TLS verified.
What each answer means:
- no connection, a timeout, a 4xx anywhere, a dropped connection before the message's final dot:
  nothing was accepted, TransientError: the engine tries again later;
- the connection lost (or no answer) after the final dot: the relay may have taken the mail, so it is
  in doubt. SMTP cannot be asked afterwards (`find` raises Unverifiable): the engine sends it again
  with the same Message-ID and notes that in the row (bot/mail_delivery.py);
- a 5xx to the recipient or to the message: PermanentError, for this mail only;
- the relay refusing the login or the sender, or TLS that cannot be verified: no mail can go out,
  ChannelUnavailable: the engine pauses the channel and tells the organisers once.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from functools import cached_property

from bot.addresses import ascii_mailbox
from bot.delivery.channels import (
    CREDENTIALS,
    PERMISSION,
    ChannelUnavailable,
    Pace,
    PermanentError,
    TransientError,
    Unverifiable,
)
from handlers.smtp.settings import SmtpSettings

# Answers to MAIL FROM that mean the relay wants (other) credentials, not that this mail is wrong.
AUTH_CODES = frozenset({530, 534, 535, 538})
TOO_BIG = 552
LEADING_DOT = re.compile(rb"(?m)^\.")


def _said(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}"


class SmtpTransport:
    def __init__(self, settings: SmtpSettings, pace: Pace) -> None:
        self.settings, self.pace = settings, pace
        self.sender = settings.sender
        # Bounces go to the envelope sender: BOUNCE_ADDRESS when set.
        self.envelope_sender = settings.bounce_address or settings.sender
        self.where = f"SMTP {settings.host}:{settings.port}"

    def paces(self) -> list[Pace]:
        return [self.pace]

    def deliver(self, mime: bytes, *, to: str, message_id: str) -> str:
        smtp = self._open()
        try:
            self._envelope(smtp, ascii_mailbox(to))
            self._data(smtp, mime)
        finally:
            _close(smtp)
        return message_id

    def find(self, message_id: str) -> str | None:
        raise Unverifiable("an SMTP relay cannot be asked whether it took a mail")

    @cached_property
    def _local_name(self) -> str:
        return socket.getfqdn()

    def _open(self) -> smtplib.SMTP:
        """Connected, greeted, encrypted and logged in, or the engine's error for why not."""
        s = self.settings
        context = ssl.create_default_context()  # the system's CAs, or SSL_CERT_FILE
        smtp: smtplib.SMTP | None = None
        try:
            if s.tls:
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, local_hostname=self._local_name, timeout=s.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=self._local_name, timeout=s.timeout)
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username is not None and s.password is not None:
                smtp.login(s.username, s.password)
            return smtp
        except smtplib.SMTPAuthenticationError as exc:
            _close(smtp)
            raise ChannelUnavailable(
                CREDENTIALS, f"{self.where} refused the login: {_said(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _close(smtp)
            raise ChannelUnavailable(CREDENTIALS, f"{self.where} does not offer {_missing(exc)}") from exc
        except ssl.SSLCertVerificationError as exc:
            _close(smtp)
            raise ChannelUnavailable(
                CREDENTIALS, f"{self.where}: TLS certificate not trusted ({exc.verify_message})"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            _close(smtp)
            raise TransientError(f"{self.where} answered {_said(exc.smtp_code, exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, dropped, TLS failed
            _close(smtp)
            raise TransientError(f"{self.where} unreachable: {type(exc).__name__}: {exc}") from exc

    def _envelope(self, smtp: smtplib.SMTP, to: str) -> None:
        """MAIL FROM and RCPT TO (the message is 7-bit: bot/mail_mime.py, so no BODY=8BITMIME)."""
        try:
            code, reply = smtp.mail(self.envelope_sender)
            if code != 250:
                said = f"{self.where} refused the sender {self.envelope_sender}: {_said(code, reply)}"
                if code in AUTH_CODES:
                    raise ChannelUnavailable(CREDENTIALS, said)
                if code == TOO_BIG:
                    raise PermanentError(said)
                if code >= 500:
                    raise ChannelUnavailable(PERMISSION, said)
                raise TransientError(said)
            code, reply = smtp.rcpt(to)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"{self.where} dropped the connection: {exc}") from exc
        if code not in (250, 251):
            said = f"{self.where} refused the recipient: {_said(code, reply)}"
            raise PermanentError(said) if code >= 500 else TransientError(said)

    def _data(self, smtp: smtplib.SMTP, mime: bytes) -> None:
        """DATA, the message, the final dot; only an answer lost after the dot leaves it in doubt."""
        try:
            code, reply = smtp.docmd("DATA")
            if code != 354:
                said = f"{self.where} refused the message: {_said(code, reply)}"
                raise PermanentError(said) if code >= 500 else TransientError(said)
            body = LEADING_DOT.sub(b"..", mime)
            smtp.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(
                f"{self.where} dropped the connection before the end of the mail: {exc}"
            ) from exc
        try:
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(
                f"{self.where} gave no answer after the mail ({exc}): it may have been taken", in_doubt=True
            ) from exc
        if code != 250:
            said = f"{self.where} refused the message: {_said(code, reply)}"
            raise PermanentError(said) if code >= 500 else TransientError(said)


def _missing(exc: smtplib.SMTPNotSupportedError) -> str:
    text = str(exc)
    return "STARTTLS" if "STARTTLS" in text.upper() else ("AUTH" if "AUTH" in text.upper() else text)


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
