"""A series' people in the dashboard: its subscribers (search, add, remove, import a CSV, export one
Excel opens), its organisers (give, take away), and its audit log. Through the services the CLI and
the chat use: `bot.subscriber_csv` for the list, `bot.services.organisers` for the role."""

from __future__ import annotations

import io

from starlette.responses import Response

from bot.models import Person
from bot.services import audit
from bot.services.audit import series_log
from bot.services.errors import UserError
from bot.services.organisers import grant, organisers_of, revoke
from bot.services.people import person_by_email
from bot.services.subscriptions import find_subscribers, unsubscribe_person
from bot.subscriber_csv import (
    CsvFormatError,
    CsvRow,
    ImportReport,
    export_subscribers,
    import_rows,
    parse_csv,
    read_text,
)
from bot.views import SeriesView
from handlers.web.admin.access import SignedIn
from handlers.web.admin.dashboard import ROOT, Dashboard, see_other
from handlers.web.admin.pages import series_of
from handlers.web.request import WebRequest
from handlers.web.site import SECURITY_HEADERS

PAGE_SIZE = 50
CHATS = ("slack", "teams")  # accounts the organiser role can be given to besides an address


def subscribers_page(
    dash: Dashboard,
    req: WebRequest,
    who: SignedIn,
    *,
    report: ImportReport | None = None,
    form_problem: str | None = None,
    status: int = 200,
) -> Response:
    query, page = req.query.get("q", "")[:200], _page(req)
    with dash.reading(who) as ctx:
        found = series_of(ctx, req.param("slug"))
        if found is None:
            return dash.problem(req, who, "not_found", 404)
        people = find_subscribers(ctx, found, query, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
        listed = [{"id": p.id, "email": p.email, "name": p.name} for p in people[:PAGE_SIZE]]
        series = SeriesView.of(found)
    data = {
        "series": series,
        "subscribers": listed,
        "query": query,
        "page": page,
        "more": len(people) > PAGE_SIZE,
        "report": _report(report),
        "form_problem": form_problem,
        "done": req.query.get("done", ""),
    }
    return dash.page(req, who, "subscribers", data, status=status, timezone=series.timezone)


def subscriber_add(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """One address, as one row of an import: never subscribes someone who left or asked to be erased."""
    row = CsvRow(2, {"email": req.field("email", 320), "name": req.field("name", 200), "language": ""})
    return _import(dash, req, who, [row])


def subscriber_import(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    data = req.files.get("file", b"")
    try:
        text, _encoding = read_text(data)
        rows = parse_csv(text)
    except CsvFormatError:
        return subscribers_page(dash, req, who, form_problem="bad_file", status=422)
    return _import(dash, req, who, rows, skip_invalid=req.form.get("skip_invalid") == "yes")


def _import(
    dash: Dashboard, req: WebRequest, who: SignedIn, rows: list[CsvRow], *, skip_invalid: bool = False
) -> Response:
    with dash.acting(who) as ctx:
        found = series_of(ctx, req.param("slug"))
        if found is None:
            return dash.problem(req, who, "not_found", 404)
        report = import_rows(ctx, found, rows, skip_invalid=skip_invalid)
    return subscribers_page(dash, req, who, report=report, status=200 if report.applied else 422)


def subscriber_remove(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    slug = req.param("slug")
    with dash.acting(who) as ctx:
        found = series_of(ctx, slug)
        person = person_by_email(ctx.s, req.field("email", 320)) if found is not None else None
        if found is None or person is None:
            return dash.problem(req, who, "not_found", 404)
        unsubscribe_person(ctx, person, found)
    return see_other(f"{ROOT}/s/{slug}/subscribers?done=removed")


def subscribers_export(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """The list as `subscribers export --excel` writes it: `;`-separated UTF-8 with a BOM. Who
    exported it is audited (it is personal data leaving the bot)."""
    out = io.StringIO()
    with dash.acting(who) as ctx:
        found = series_of(ctx, req.param("slug"))
        if found is None:
            return dash.problem(req, who, "not_found", 404)
        count = export_subscribers(ctx.s, out, series=found, include_unsubscribed=False, delimiter=";")
        audit.record(
            ctx, "subscribers.exported", series_id=found.id, subject=("series", found.id), rows=count
        )
        slug = found.slug
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{slug}-subscribers.csv"',
        "Cache-Control": "no-store",
    }
    body = out.getvalue().encode("utf-8-sig")
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def organisers_page(
    dash: Dashboard, req: WebRequest, who: SignedIn, *, problem: str | None = None, status: int = 200
) -> Response:
    with dash.reading(who) as ctx:
        found = series_of(ctx, req.param("slug"))
        if found is None:
            return dash.problem(req, who, "not_found", 404)
        people = [_named(p) for p in organisers_of(ctx, found)]
        series = SeriesView.of(found)
    data = {"series": series, "organisers": people, "problem": problem, "done": req.query.get("done", "")}
    return dash.page(req, who, "organisers", data, status=status, timezone=series.timezone)


def organiser_change(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    """Give or take away the role (`gi arrangør`, `fjern arrangør`, `organisers add|remove`)."""
    slug, identity = req.param("slug"), req.field("identity", 400)
    give = req.form.get("change") == "give"
    try:
        with dash.acting(who) as ctx:
            found = series_of(ctx, slug)
            if found is None:
                return dash.problem(req, who, "not_found", 404)
            (grant if give else revoke)(ctx, found, identity)
    except UserError as refusal:
        return organisers_page(dash, req, who, problem=dash.refusal(req, refusal), status=422)
    return see_other(f"{ROOT}/s/{slug}/organisers?done={'given' if give else 'taken'}")


def audit_page(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    page = _page(req)
    with dash.reading(who) as ctx:
        found = series_of(ctx, req.param("slug"))
        if found is None:
            return dash.problem(req, who, "not_found", 404)
        entries = series_log(ctx, found.id, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
        series = SeriesView.of(found)
    data = {"series": series, "entries": entries[:PAGE_SIZE], "page": page, "more": len(entries) > PAGE_SIZE}
    return dash.page(req, who, "audit", data, timezone=series.timezone)


def _page(req: WebRequest) -> int:
    text = req.query.get("page", "0")
    return min(int(text), 10_000) if text.isdigit() and len(text) <= 6 else 0


def _named(person: Person) -> dict[str, str]:
    """An organiser as the role was given: an address, or a chat account (`slack:U123`)."""
    accounts = [
        f"{i.platform}:{i.external_id}" for i in person.identities if i.platform in ("slack", "teams")
    ]
    return {"email": person.email or "", "name": person.name or "", "identities": ", ".join(accounts)}


def _report(report: ImportReport | None) -> dict[str, object] | None:
    """What an import did, in numbers and line numbers (the reasons are the CLI's English)."""
    if report is None:
        return None
    return {
        "applied": report.applied,
        "created": report.created,
        "unchanged": report.unchanged,
        "rejected": [issue.line for issue in report.rejected],
        "skipped": [issue.line for issue in report.skipped],
        "merged": [issue.line for issue in report.merged],
    }
