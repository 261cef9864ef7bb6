"""The confirmation mails the web forms send: a link to click, nothing a stranger typed into a form.

Templates: `handlers/web/templates/<language>/mail/<name>.txt` (first line the subject, then a
blank line, then the text) and `<name>.html`. The name given in a form is left out on purpose: the
form must not let anyone put words of their own into a mail to someone else's address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.mail import MailMessage
from bot.rendering import Renderer


def confirmation_mail(
    renderer: Renderer,
    template: str,
    to: str,
    *,
    link: str,
    valid_until: datetime,
    language: str,
    timezone: str,
    data: dict[str, Any] | None = None,
) -> MailMessage:
    context = {**(data or {}), "link": link, "valid_until": valid_until}
    text = renderer.render(
        f"web/mail/{template}.txt", context, language=language, timezone=timezone, fmt="text"
    )
    subject, _, body = text.partition("\n\n")
    html = renderer.render(
        f"web/mail/{template}.html", context, language=language, timezone=timezone, fmt="html"
    )
    return MailMessage(
        to=to,
        subject=subject.strip(),
        text=body.strip() + "\n",
        html=html,
        headers={"Auto-Submitted": "auto-generated"},
    )
