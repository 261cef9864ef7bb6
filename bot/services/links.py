"""Presentation links on a session: slides, and recordings (shown first)."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.bounds import id_in_range
from bot.models import LinkKind, PresentationLink, SessionStatus
from bot.services import audit
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.organisers import require_organiser
from bot.services.sessions import get_session


def add_link(
    ctx: Ctx, session_id: int, url: str, title: str, speaker: str | None, kind: str = LinkKind.SLIDES.value
) -> PresentationLink:
    """A link to the slides (or, with `kind` "recording", the recording) of a session."""
    if kind not in set(LinkKind):
        raise UserError("bad_link_kind", kind=kind, kinds=[k.value for k in LinkKind])
    session = get_session(ctx, session_id)
    require_organiser(ctx, session.series)
    if session.status == SessionStatus.CANCELLED.value:
        raise UserError("session_cancelled", session_id=session.id)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise UserError("bad_url", url=url)
    title = title.strip()
    if not title:
        raise UserError("missing_title")
    if len(title) > 300 or (speaker is not None and len(speaker) > 200):
        raise UserError("too_long", field="title", limit=300)
    link = PresentationLink(
        session=session,
        title=title,
        speaker=(speaker or "").strip() or None,
        url=url.strip(),
        kind=kind,
        added_at=ctx.now,
    )
    ctx.s.add(link)
    ctx.s.flush()
    audit.record(
        ctx,
        "link.added",
        series_id=session.series_id,
        subject=("link", link.id),
        session_id=session.id,
        kind=kind,
    )
    return link


def remove_link(ctx: Ctx, link_id: int) -> PresentationLink:
    link = ctx.s.get(PresentationLink, link_id) if id_in_range(link_id) else None
    if link is None:
        raise UserError("unknown_link", link_id=link_id)
    require_organiser(ctx, link.session.series)
    ctx.s.delete(link)
    audit.record(
        ctx,
        "link.removed",
        series_id=link.session.series_id,
        subject=("link", link_id),
        session_id=link.session_id,
    )
    return link
