"""The dashboard's pages: the organiser's series, a series' programme, and a session to plan (edit,
slides, cancel). Every change goes through the services `endre økt`, `sessions edit`, `ny lenke` and
`avlys økt` use; a refusal is shown in the form, worded as the chat words it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response

from bot.bounds import MAX_ID
from bot.commands import SessionFields
from bot.delivery.ahead import schedule_ahead
from bot.delivery.operations import failed_of, outcomes, retry
from bot.models import DeliveryState, LinkKind, Series, SessionStatus
from bot.models import Session as SessionRow
from bot.services import sessions as planning
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.links import add_link, remove_link
from bot.services.numbers import numbers_of
from bot.services.organisers import organised_series, require_organiser
from bot.services.public import series_by_slug
from bot.views import SeriesView, SessionView
from handlers.web.admin.access import SignedIn
from handlers.web.admin.dashboard import ROOT, Dashboard, see_other
from handlers.web.request import WebRequest

PAST_SHOWN = 50
FIELDS = ("title", "start", "duration", "topic", "speakers", "description", "join_url")


class FormProblem(Exception):
    """A form field the services never see because the page cannot read it (worded by the page)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def home(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    with dash.reading(who) as ctx:
        listed = [SeriesView.of(x) for x in organised_series(ctx)]
    return dash.page(req, who, "index", {"all_series": listed})


def series_page(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """The programme ahead (drafts and cancelled ones marked) and the sessions held."""
    with dash.reading(who) as ctx:
        found = series_of(ctx, req.param("slug"))
        if found is None:
            return dash.problem(req, who, "not_found", 404)
        series = SeriesView.of(found)
        ahead = [SessionView.of(x) for x in planning.upcoming_sessions(ctx, found, limit=100)]
        past = [SessionView.of(x) for x in planning.past_sessions(ctx, found, PAST_SHOWN)]
    data = {"series": series, "ahead": ahead, "past": past}
    return dash.page(req, who, "series", data, timezone=series.timezone)


def session_page(
    dash: Dashboard,
    req: WebRequest,
    who: SignedIn,
    *,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    form_problem: str | None = None,
    clash: bool = False,
    status: int = 200,
) -> Response:
    with dash.reading(who) as ctx:
        session = session_of(ctx, req.param("id"))
        if session is None:
            return dash.problem(req, who, "not_found", 404)
        view = SessionView.of(session)
        planner = dash.core.planner
        ahead = schedule_ahead(ctx.s, planner, ctx.now, view.id) if planner is not None else []
        sent = outcomes(ctx, view.id)
        # The same figures as `antall ID` and `sessions show ID`, with what the channels delivered
        # outside the outbox (set by the composition root; None in a bot without channels).
        numbers = numbers_of(ctx, view.id, dash.core.dispatcher.outside_reach)
    data: dict[str, Any] = {
        "numbers": numbers,
        "started": view.start <= dash.core.clock.now(),
        "link_kinds": [kind.value for kind in LinkKind],
        "schedule": ahead,
        "outcomes": sent,
        "failed": sum(x.count for x in sent if x.state == DeliveryState.FAILED.value),
        "series": view.series,
        "session": view,
        "form": values or _values(view),
        "problem": problem,
        "form_problem": form_problem,
        "clash": clash,
        "done": req.query.get("done", ""),
        "draft": view.status == SessionStatus.DRAFT.value,
        "editable": view.status != SessionStatus.CANCELLED.value,
        "cancellable": view.status != SessionStatus.CANCELLED.value and view.end > dash.core.clock.now(),
    }
    return dash.page(req, who, "session", data, status=status, timezone=view.series.timezone)


def session_save(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """The edit form: what differs from the session is changed, as `sessions edit` would change it."""
    force = req.form.get("anyway") == "yes"
    with dash.reading(who) as ctx:
        session = session_of(ctx, req.param("id"))
        if session is None:
            return dash.problem(req, who, "not_found", 404)
        view = SessionView.of(session)
    # A field the form did not send stays as it is.
    values = {name: req.field(name, 3000) if name in req.form else now for name, now in _values(view).items()}
    try:
        fields = _changes(view, values)
        with dash.acting(who) as ctx:
            planning.change_session(ctx, view.id, fields, force=force)
    except FormProblem as unreadable:
        return session_page(dash, req, who, values=values, form_problem=unreadable.key, status=422)
    except UserError as refusal:
        text = dash.refusal(req, refusal, view.series.timezone)
        clash = refusal.key == "session_clash"
        return session_page(dash, req, who, values=values, problem=text, clash=clash, status=422)
    return see_other(f"{ROOT}/sessions/{view.id}?done=saved")


def session_cancel(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """Cancel, once the organiser ticked that they mean it."""
    if req.form.get("confirm") != "yes":
        return session_page(dash, req, who, form_problem="confirm_cancel", status=422)
    try:
        with dash.acting(who) as ctx:
            session = session_of(ctx, req.param("id"))
            if session is None:
                return dash.problem(req, who, "not_found", 404)
            planning.cancel_session(ctx, session.id)
    except UserError as refusal:
        return _refused_in_page(dash, req, who, refusal)
    return see_other(f"{ROOT}/sessions/{req.param('id')}?done=cancelled")


def retry_failed(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """Queue the session's failed messages again, as `deliveries retry` does."""
    with dash.acting(who) as ctx:
        session = session_of(ctx, req.param("id"))
        if session is None:
            return dash.problem(req, who, "not_found", 404)
        retry(ctx, failed_of(ctx, session.id), all_failed=False)
    dash.core.deliveries_queued()
    return see_other(f"{ROOT}/sessions/{req.param('id')}?done=retried")


def link_add(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """Slides or a recording (`link_kind`), as `ny lenke ... type=opptak` adds it."""
    kind = req.field("link_kind", 20) or LinkKind.SLIDES.value
    if kind not in {k.value for k in LinkKind}:
        # The form offers only the known kinds; anything else is a tampered or stale form.
        return session_page(dash, req, who, form_problem="bad_link_kind", status=422)
    try:
        with dash.acting(who) as ctx:
            session = session_of(ctx, req.param("id"))
            if session is None:
                return dash.problem(req, who, "not_found", 404)
            speaker = req.field("link_speaker", 200) or None
            url, title = req.field("link_url", 2000), req.field("link_title", 300)
            add_link(ctx, session.id, url, title, speaker, kind=kind)
    except UserError as refusal:
        return _refused_in_page(dash, req, who, refusal)
    return see_other(f"{ROOT}/sessions/{req.param('id')}?done=link_added")


def link_remove(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    link_id = _number(req.param("link"))
    try:
        with dash.acting(who) as ctx:
            session = session_of(ctx, req.param("id"))
            if session is None or link_id not in {link.id for link in session.links}:
                return dash.problem(req, who, "not_found", 404)
            remove_link(ctx, link_id)
    except UserError as refusal:
        return _refused_in_page(dash, req, who, refusal)
    return see_other(f"{ROOT}/sessions/{req.param('id')}?done=link_removed")


def _refused_in_page(dash: Dashboard, req: WebRequest, who: SignedIn, refusal: UserError) -> Response:
    return session_page(dash, req, who, problem=dash.refusal(req, refusal), status=422)


def series_of(ctx: Ctx, slug: str) -> Series | None:
    """The series, if this organiser organises it (anyone else: as if it did not exist)."""
    found = series_by_slug(ctx, slug)
    if found is None:
        return None
    try:
        require_organiser(ctx, found)
    except UserError:
        return None
    return found


def session_of(ctx: Ctx, text: str) -> SessionRow | None:
    """The session with this id, if this organiser organises its series."""
    number = _number(text)
    try:
        session = planning.get_session(ctx, number)
        require_organiser(ctx, session.series)
    except UserError:
        return None
    return session


def _number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < len(text) <= 12 and int(text) <= MAX_ID else 0


def _values(view: SessionView) -> dict[str, str]:
    local = view.start.astimezone(ZoneInfo(view.series.timezone))
    return {
        "title": view.title,
        "start": local.strftime("%Y-%m-%dT%H:%M"),
        "duration": str(view.duration_minutes),
        "topic": view.topic or "",
        "speakers": view.speakers or "",
        "description": view.description or "",
        "join_url": view.join_url or "",
    }


def _changes(view: SessionView, values: dict[str, str]) -> SessionFields:
    """The form's fields that differ from the session, as the services take them."""
    now = _values(view)
    given = {name: value for name, value in values.items() if value != now[name]}
    start = None
    if "start" in given:
        start = _local_start(given["start"])
    duration = None
    if "duration" in given:
        if not given["duration"].isdigit():
            raise FormProblem("bad_duration")
        duration = int(given["duration"][:6])
    return SessionFields(
        title=given.get("title"),
        start_local=start,
        duration_minutes=duration,
        topic=given.get("topic"),
        speakers=given.get("speakers"),
        description=given.get("description"),
        join_url=given.get("join_url"),
    )


def _local_start(text: str) -> datetime:
    """A datetime-local field ("2026-03-06T09:00"), or the same with a space."""
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    raise FormProblem("bad_start")
