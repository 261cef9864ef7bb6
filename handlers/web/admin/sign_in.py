"""Signing in and out: the one-time link from `dashboard link`, Microsoft (OpenID Connect with PKCE,
when Microsoft 365 is configured), and signing out."""

from __future__ import annotations

import logging
from datetime import timedelta

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.responses import RedirectResponse, Response

from bot.services.people import person_by_email
from bot.sign_in import SignInFailed
from handlers.web.admin.access import (
    MICROSOFT,
    LinkRefused,
    NoDashboard,
    SignedIn,
    end_session,
    link_holder,
    open_session,
    redeem_link,
)
from handlers.web.admin.dashboard import ROOT, Dashboard, see_other
from handlers.web.request import WebRequest
from handlers.web.site import SECURITY_HEADERS

log = logging.getLogger(__name__)
FLOW_COOKIE = "admin_flow"
FLOW_PATH = f"{ROOT}/auth"
FLOW_VALID_FOR = timedelta(minutes=10)
CALLBACK = f"{ROOT}/auth/callback"


def link_page(dash: Dashboard, req: WebRequest) -> Response:
    """GET of a sign-in link: says whom it signs in, with a button (a GET changes nothing, so a
    link previewer cannot use the link up)."""
    try:
        with dash.core.db.read() as s:
            email = link_holder(s, req.param("token"), dash.core.clock.now())
    except LinkRefused as refused:
        return dash.problem(req, None, f"link_{refused.reason}", 410 if refused.reason != "unknown" else 404)
    return dash.page(req, None, "link", {"email": email, "action": req.path})


def link_use(dash: Dashboard, req: WebRequest) -> Response:
    """POST of a sign-in link: marks it used and opens the session, in one transaction."""
    if not (dash.site.csrf_ok(req) and dash.origin_ok(req)):
        return dash.problem(req, None, "csrf", 403)
    try:
        with dash.core.db.transaction() as s:
            now = dash.core.clock.now()
            key = redeem_link(s, req.param("token"), now, dash.core.config, dash.lifetime)
    except LinkRefused as refused:
        return dash.problem(req, None, f"link_{refused.reason}", 410 if refused.reason != "unknown" else 404)
    except NoDashboard:
        return dash.problem(req, None, "not_organiser", 403)
    response = see_other(ROOT)
    dash.set_session_cookie(response, key)
    return response


def sign_out(dash: Dashboard, req: WebRequest, who: SignedIn) -> Response:
    with dash.acting(who) as ctx:
        end_session(ctx, who)
    response = see_other(ROOT)
    dash.clear_session_cookie(response)
    return response


def microsoft_start(dash: Dashboard, req: WebRequest) -> Response:
    """Off to Microsoft's sign-in page; the flow (state, nonce, PKCE verifier) waits in a signed,
    HttpOnly cookie that only the callback's path receives."""
    if dash.microsoft is None:
        return dash.problem(req, None, "not_found", 404)
    try:
        url, flow = dash.microsoft.start(dash.site.base_url() + CALLBACK)
    except SignInFailed as exc:
        log.warning("dashboard: Microsoft sign-in could not start: %s", exc)
        return dash.problem(req, None, "microsoft_failed", 503)
    response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        FLOW_COOKIE,
        _flows(dash).dumps(flow),
        max_age=int(FLOW_VALID_FOR.total_seconds()),
        path=FLOW_PATH,
        secure=dash.secure,
        httponly=True,
        samesite="lax",
    )
    return response


def microsoft_callback(dash: Dashboard, req: WebRequest) -> Response:
    """Back from Microsoft: msal checks state and nonce and redeems the code with the PKCE verifier;
    the address in the id_token must be an organiser's."""
    if dash.microsoft is None:
        return dash.problem(req, None, "not_found", 404)
    try:
        flow = _flows(dash).loads(
            req.cookies.get(FLOW_COOKIE, ""), max_age=int(FLOW_VALID_FOR.total_seconds())
        )
        if not isinstance(flow, dict):
            raise SignInFailed("the sign-in flow is not ours")
        email = dash.microsoft.finish(flow, req.query)
    except (BadData, SignInFailed) as exc:
        log.info("dashboard: Microsoft sign-in failed: %s", type(exc).__name__)
        return _forget_flow(dash, dash.problem(req, None, "microsoft_failed", 400))
    try:
        with dash.core.db.transaction() as s:
            person = person_by_email(s, email)
            if person is None:
                raise NoDashboard(email)
            key = open_session(s, person, dash.core.clock.now(), dash.core.config, dash.lifetime, MICROSOFT)
    except NoDashboard:
        return _forget_flow(dash, dash.problem(req, None, "not_organiser", 403))
    response = _forget_flow(dash, see_other(ROOT))
    dash.set_session_cookie(response, key)
    return response


def _flows(dash: Dashboard) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(dash.site.secret_key, salt="baerekraft.dashboard-flow.v1")


def _forget_flow(dash: Dashboard, response: Response) -> Response:
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH, secure=dash.secure, httponly=True, samesite="lax")
    return response
