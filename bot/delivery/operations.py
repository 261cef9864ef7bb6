"""What operators do by hand: set a series' offsets, look at the outbox, retry, preview, send now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from bot.delivery import kinds
from bot.delivery.channels import OutgoingMessage, Recipient
from bot.delivery.durations import format_offsets, parse_offset, parse_offsets
from bot.delivery.fanouts import record_fanout
from bot.delivery.planner import Planner
from bot.delivery.reach import unreached_among
from bot.delivery.recipients import subscribers
from bot.delivery.schedule import Planned
from bot.models import Delivery, DeliveryState, Fanout, FanoutState, Series, SessionStatus
from bot.models import Session as SessionRow
from bot.services import audit
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.sessions import get_session
from bot.tokens import invite_url
from bot.views import SeriesView, SessionView

MANUAL_KINDS = (kinds.INVITATION, kinds.REMINDER, kinds.FOLLOWUP)
# What a preview may show besides: the notice a cancellation would send (never sent by hand).
PREVIEW_KINDS = (*MANUAL_KINDS, kinds.CANCELLATION)


def set_offsets(
    ctx: Ctx, series: Series, invitation: str | None, reminders: str | None, followup: str | None
) -> dict[str, str]:
    """Change when a series' messages go out; durations like 7d, 1d,1h, 2h. Returns what changed."""
    changed: dict[str, str] = {}
    given = ""
    try:
        if invitation is not None:
            given = invitation
            series.invitation_offset = changed["invitation_offset"] = str(parse_offset(invitation))
        if reminders is not None:
            given = reminders
            series.reminder_offsets = changed["reminder_offsets"] = format_offsets(parse_offsets(reminders))
        if followup is not None:
            given = followup
            series.followup_delay = changed["followup_delay"] = str(parse_offset(followup))
    except ValueError as exc:
        # The text as given, not the parser's English message: the reply says the rest in its language.
        raise UserError("bad_duration_text", text=given.strip()) from exc
    if changed:
        audit.record(
            ctx, "series.offsets_set", series_id=series.id, subject=("series", series.id), changed=changed
        )
    return changed


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    session_id: int | None
    kind: str
    channel: str
    target: str
    state: str
    attempts: int
    due_at: datetime
    sent_at: datetime | None
    last_error: str | None


def list_deliveries(ctx: Ctx, session_id: int | None, state: str | None, limit: int) -> list[DeliveryRow]:
    query = select(Delivery, Fanout).join(Fanout, Fanout.id == Delivery.fanout_id)
    if session_id is not None:
        query = query.where(Fanout.session_id == session_id)
    if state is not None:
        if state not in {s.value for s in DeliveryState}:
            raise UserError("bad_state", state=state, options=[s.value for s in DeliveryState])
        query = query.where(Delivery.state == state)
    rows = ctx.s.execute(query.order_by(Delivery.due_at.desc(), Delivery.id.desc()).limit(limit))
    return [
        DeliveryRow(
            d.id,
            f.session_id,
            f.kind,
            d.channel,
            d.target,
            d.state,
            d.attempts,
            d.due_at,
            d.sent_at,
            d.last_error,
        )
        for d, f in rows
    ]


@dataclass(frozen=True)
class Outcome:
    """How many of a session's messages of one kind, through one channel, are in one state."""

    kind: str
    channel: str
    state: str
    count: int


def outcomes(ctx: Ctx, session_id: int) -> list[Outcome]:
    """What became of a session's messages so far: sent, failed, skipped or still waiting, per kind
    and channel, in the order they were due."""
    rows = ctx.s.execute(
        select(Fanout.kind, Delivery.channel, Delivery.state, func.count(), func.min(Delivery.due_at))
        .join(Fanout, Fanout.id == Delivery.fanout_id)
        .where(Fanout.session_id == session_id)
        .group_by(Fanout.kind, Delivery.channel, Delivery.state)
        .order_by(func.min(Delivery.due_at), Fanout.kind, Delivery.channel, Delivery.state)
    )
    return [Outcome(kind, channel, state, count) for kind, channel, state, count, _ in rows]


def failed_of(ctx: Ctx, session_id: int) -> list[int]:
    """The ids of a session's failed deliveries (for `retry`)."""
    query = (
        select(Delivery.id)
        .join(Fanout, Fanout.id == Delivery.fanout_id)
        .where(Fanout.session_id == session_id, Delivery.state == DeliveryState.FAILED.value)
    )
    return list(ctx.s.scalars(query))


def retry(ctx: Ctx, ids: list[int], all_failed: bool) -> int:
    """Put failed deliveries back in the queue, due now; returns how many."""
    query = select(Delivery.id).where(Delivery.state == DeliveryState.FAILED.value)
    if not all_failed:
        query = query.where(Delivery.id.in_(ids))
    chosen = list(ctx.s.scalars(query))
    if not chosen:
        return 0
    ctx.s.execute(
        update(Delivery)
        .where(Delivery.id.in_(chosen))
        .values(
            state=DeliveryState.PENDING.value,
            attempts=0,
            next_attempt_at=None,
            in_doubt=False,
            due_at=ctx.now,
            updated_at=ctx.now,
        )
    )
    audit.record(
        ctx, "delivery.retried", subject=("delivery", chosen[0]), count=len(chosen), ids=chosen[:100]
    )
    return len(chosen)


def manual_plan(
    ctx: Ctx, session_id: int, kind: str, allowed: tuple[str, ...] = MANUAL_KINDS
) -> tuple[SessionRow, Planned]:
    if kind not in allowed:
        raise UserError("bad_kind", kind=kind, options=list(allowed))
    session = get_session(ctx, session_id)
    payload = {"start": session.start_at.isoformat(), "offset": "manual"}
    return session, Planned(f"s{session.id}:{kind}:manual:{ctx.now.isoformat()}", kind, ctx.now, payload)


def why_not_sent(session: SessionRow, kind: str, now: datetime) -> str | None:
    """Why the outbox would skip every row of `kind` for this session now (as `outbox.skip_reason`
    decides at sending), or None."""
    if session.status == SessionStatus.CANCELLED.value:
        return f"session {session.id} is cancelled"
    if session.status == SessionStatus.DRAFT.value:
        return (
            f"session {session.id} is a draft until it has a title (sessions edit {session.id} --title ...)"
        )
    if kind in kinds.BEFORE_START and session.start_at <= now:
        held = session.status == SessionStatus.HELD.value
        return f"session {session.id} {'was held' if held else 'has started'}: no {kind} goes out any more"
    return None


@dataclass(frozen=True)
class Preview:
    """What sending `kind` now would do: the sends (channel, target, language, person), why none
    would go out (if so), the subscribers, and those of them no configured channel reaches
    (`bot.delivery.reach`)."""

    session: SessionView
    plan: Planned
    sends: list[tuple[str, str, str, int | None]]
    blocked: str | None
    people: list[Recipient]
    unreached: list[Recipient]


def preview(
    ctx: Ctx, planner: Planner, session_id: int, kind: str, allowed: tuple[str, ...] = MANUAL_KINDS
) -> Preview:
    """Who would get this message now, through which channel; nothing is written. `allowed`: the
    kinds one may ask for (the dashboard shows PREVIEW_KINDS)."""
    session, plan = manual_plan(ctx, session_id, kind, allowed)
    people = subscribers(ctx.s, session.series)
    expansion = planner.expand_targets(plan, session.series, people)
    sends = [
        (channel, t.target, t.language, t.person_id)
        for channel, targets in expansion.targets.items()
        for t in targets
    ]
    unreached = unreached_among(people, SeriesView.of(session.series), planner.senders())
    blocked = why_not_sent(session, kind, ctx.now)
    return Preview(SessionView.of(session), plan, sends, blocked, people, unreached)


def samples(shown: Preview, public_base_url: str | None) -> dict[tuple[str, str], OutgoingMessage]:
    """The message each (channel, language) would get: the first of its sends, as the worker builds it
    (with the series' «invite a colleague» link, as the outbox gives every public message)."""
    invite = (
        invite_url(public_base_url, shown.session.series.slug) if shown.plan.kind in kinds.PUBLIC else None
    )
    people = {p.person_id: p for p in shown.people}
    view = shown.session
    found: dict[tuple[str, str], OutgoingMessage] = {}
    for channel, target, language, person_id in shown.sends:
        if (channel, language) in found:
            continue
        found[(channel, language)] = OutgoingMessage(
            delivery_id=0,
            key=shown.plan.key,
            kind=shown.plan.kind,
            channel=channel,
            target=target,
            language=language,
            series=view.series,
            session=view,
            recipient=people.get(person_id) if person_id is not None else None,
            payload=dict(shown.plan.payload),
            invite_url=invite,
        )
    return found


def send_now(ctx: Ctx, planner: Planner, session_id: int, kind: str) -> list[int]:
    """Queue `kind` for this session to everyone concerned, due now; returns the delivery ids."""
    session, plan = manual_plan(ctx, session_id, kind)
    expansion = planner.expand_targets(plan, session.series, subscribers(ctx.s, session.series))
    fanout = record_fanout(ctx.s, session, plan, FanoutState.EXPANDED, ctx.now)
    planner.insert_deliveries(ctx.s, fanout, plan, expansion, ctx.now)
    audit.record(
        ctx, "fanout.manual", series_id=session.series_id, subject=("session", session.id), kind=kind
    )
    return list(ctx.s.scalars(select(Delivery.id).where(Delivery.fanout_id == fanout.id)))
