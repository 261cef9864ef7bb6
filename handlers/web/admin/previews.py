"""What a session will send, as it will look: each kind, each channel its subscribers are reached
through, each language they read. Rendered by the code behind `send --dry-run`
(`bot.delivery.operations.preview` and `samples`, `bot.delivery.messages.render`, the mail composer):
nothing here words a message itself. The mail's HTML is served on its own URL, framed by the page in
a sandbox, with a policy that lets it load and run nothing."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.responses import HTMLResponse, Response

from bot.delivery import kinds
from bot.delivery.channels import OutgoingMessage
from bot.delivery.messages import render
from bot.delivery.operations import PREVIEW_KINDS, Preview, preview, samples
from bot.mail import MailMessage
from bot.mail_compose import compose
from bot.services.errors import UserError
from bot.views import SessionView
from handlers.web.admin.access import SignedIn
from handlers.web.admin.dashboard import ROOT, Dashboard
from handlers.web.admin.pages import session_of
from handlers.web.request import WebRequest
from handlers.web.site import SECURITY_HEADERS

MAIL_CHANNELS = frozenset({"email", "smtp"})
# How each channel formats a message's text, as its sender does (the rest: plain text).
FORMATS = {"slack": "mrkdwn"}
# The framed mail: its own inline styles and remote images, nothing else; framed by our pages only.
MAIL_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


@dataclass(frozen=True)
class Shown:
    """One message as a channel shows it: subject and text, or the URL of the mail's HTML."""

    channel: str
    language: str
    subject: str
    body: str
    mail_url: str | None


def preview_page(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    kind = req.query.get("kind", kinds.REMINDER)
    if kind not in PREVIEW_KINDS:
        kind = kinds.REMINDER
    shown = _preview(dash, req, who, kind)
    if shown is None:
        return dash.problem(req, who, "not_found", 404)
    view = shown.session
    messages = [
        _shown(dash, who, view.id, kind, message)
        for message in samples(shown, dash.core.settings.public_base_url).values()
    ]
    fallback = None
    if not messages:  # nobody reached (yet): the text in the series' language, as a channel would send it
        message = _fallback(shown)
        rendered = render(dash.core.renderer, message)
        fallback = Shown("", message.language, rendered.subject, rendered.body, None)
    data = {
        "series": view.series,
        "session": view,
        "kind": kind,
        # The cancellation notice only while there is something to cancel.
        "kinds": [k for k in PREVIEW_KINDS if k != kinds.CANCELLATION or not _over(view, dash)],
        "messages": messages,
        "fallback": fallback,
        "blocked": shown.blocked is not None,
        "recipients": len(shown.sends),
        "unreached": len(shown.unreached),
    }
    response = dash.page(req, who, "preview", data, timezone=view.series.timezone)
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = f"{policy}; frame-src 'self'"
    return response


def mail_html(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """The mail's HTML as a subscriber's mail program shows it, for the preview's frame."""
    kind, language = req.query.get("kind", ""), req.query.get("language", "")
    if kind not in PREVIEW_KINDS:
        return dash.problem(req, who, "not_found", 404)
    shown = _preview(dash, req, who, kind)
    if shown is None:
        return dash.problem(req, who, "not_found", 404)
    base = dash.core.settings.public_base_url
    found = samples(shown, base).get((req.query.get("channel", ""), language))
    if found is None or found.channel not in MAIL_CHANNELS:
        return dash.problem(req, who, "not_found", 404)
    mail = _mail(dash, found, who)
    headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": MAIL_POLICY,
        "X-Frame-Options": "SAMEORIGIN",
    }
    return HTMLResponse(mail.html or "", headers=headers)


def _preview(dash: Dashboard, req: WebRequest, who: SignedIn, kind: str) -> Preview | None:
    planner = dash.core.planner
    if planner is None:
        return None
    with dash.reading(who) as ctx:
        session = session_of(ctx, req.param("id"))
        if session is None:
            return None
        try:
            return preview(ctx, planner, session.id, kind, PREVIEW_KINDS)
        except UserError:
            return None


def _shown(dash: Dashboard, who: SignedIn, session_id: int, kind: str, message: OutgoingMessage) -> Shown:
    if message.channel in MAIL_CHANNELS:
        mail = _mail(dash, message, who)
        query = urlencode({"kind": kind, "channel": message.channel, "language": message.language})
        url = f"{ROOT}/sessions/{session_id}/preview/mail?{query}"
        return Shown(message.channel, message.language, mail.subject, mail.text, url)
    rendered = render(dash.core.renderer, message, fmt=FORMATS.get(message.channel, "text"))
    return Shown(message.channel, message.language, rendered.subject, rendered.body, None)


def _mail(dash: Dashboard, message: OutgoingMessage, who: SignedIn) -> MailMessage:
    """The mail as its transport gets it (the `.ics` it carries is not shown: any organiser will do)."""
    settings = dash.core.settings
    host = urlsplit(dash.site.base_url()).hostname or "localhost"
    return compose(
        dash.core.renderer,
        settings,
        message,
        to=message.target,
        organiser=who.email,
        host=host,
        now=dash.core.clock.now(),
    )


def _over(view: SessionView, dash: Dashboard) -> bool:
    return view.cancelled or view.start <= dash.core.clock.now()


def _fallback(shown: Preview) -> OutgoingMessage:
    view = shown.session
    return OutgoingMessage(
        delivery_id=0,
        key=shown.plan.key,
        kind=shown.plan.kind,
        channel="",
        target="",
        language=view.series.language,
        series=view.series,
        session=view,
        recipient=None,
        payload=dict(shown.plan.payload),
    )
