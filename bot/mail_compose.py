"""One delivery as a mail: subject, text and HTML in the person's language, the session's `.ics`,
`List-Unsubscribe` (RFC 8058 one-click), a header naming the delivery, and its stable Message-ID.
Every mail transport sends these (Exchange through Graph, SMTP, the development mailbox)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from bot.delivery import kinds
from bot.delivery.channels import OutgoingMessage
from bot.delivery.messages import context, render
from bot.html_text import text_as_html
from bot.mail import Attachment, MailMessage
from bot.mail_mime import IcsChoice, session_ics
from bot.rendering import Renderer
from bot.settings import Settings
from bot.tokens import unsubscribe_headers, unsubscribe_url

DELIVERY_HEADER = "X-Baerekraft-Delivery"
FEED_ICS = IcsChoice()  # the .ics under the web feed's UID (no Exchange meeting)


def delivery_message_id(key: str, host: str) -> str:
    """A deterministic Message-ID for one delivery: a resend after a crash carries the same id, so
    the sender's Sent Items can be searched for it and receivers can tell it is the same mail."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{host}>"


def compose(
    renderer: Renderer,
    settings: Settings,
    message: OutgoingMessage,
    *,
    to: str,
    organiser: str,
    host: str,
    now: datetime,
    ics: IcsChoice = FEED_ICS,
    list_wide: str | None = None,
) -> MailMessage:
    """The mail; `ics` says whether the session's `.ics` goes with it, and its UID (meeting_ics).
    `list_wide`: a mail to many at once (a batch in Bcc) links to this page to leave the series
    (its leave page) instead of a personal link, in the text and in List-Unsubscribe, without
    RFC 8058's one-click POST: that needs a URL that names the one recipient who clicks."""
    rendered = render(renderer, message)
    recipient, series = message.recipient, message.series
    public = message.kind in kinds.PUBLIC and recipient is not None
    unsubscribe = unsubscribe_url(settings, recipient.person_id, series.id) if public and recipient else None
    if list_wide is not None and message.kind in kinds.PUBLIC:
        unsubscribe = list_wide
    options = {"language": message.language, "timezone": series.timezone}
    footer = renderer.render(
        "messages/_mail_footer.txt",
        {"series": series, "unsubscribe_url": unsubscribe, "organiser": message.kind in kinds.ORGANISERS},
        **options,
    )
    text = f"{rendered.body}\n\n-- \n{footer}"
    if _has_html(renderer, message.language, message.kind):
        data = context(message, layout="mail", subject=rendered.subject, unsubscribe_url=unsubscribe)
        html = renderer.render(f"messages/{message.kind}.html", data, fmt="html", **options)
    else:
        html = text_as_html(text)
    headers = {DELIVERY_HEADER: message.key}
    if list_wide is not None and message.kind in kinds.PUBLIC:
        headers["List-Unsubscribe"] = f"<{list_wide}>"
    attachments: tuple[Attachment, ...] = ()
    if public and recipient is not None:
        headers.update(unsubscribe_headers(settings, recipient.person_id, series.id))
        if message.session is not None and ics.include:
            attachments = (
                session_ics(
                    message.session,
                    host=host,
                    now=now,
                    organiser=organiser,
                    description=rendered.body,
                    uid=ics.uid,
                    attendee=to if ics.invite else None,
                ),
            )
    return MailMessage(to, rendered.subject, text, html, headers, attachments)


def _has_html(renderer: Renderer, language: str, kind: str) -> bool:
    return renderer.has(f"messages/{kind}.html", language=language)
