"""Keeps each session's Teams meeting in step with the session and its subscribers (a reconciler).

Every pass compares what should be (`meeting_parts.snapshot`) with what was done (`graph_event`) and
makes the difference, so a crash or an outage loses nothing: the next pass finishes the job.

- As soon as a session is planned, part 0 is created without attendees (nobody is mailed yet) and its
  join URL stored on the session, so every channel's messages carry it.
- When the invitation falls due (its fan-out expanded), the subscribers with an e-mail address become
  attendees: Exchange sends each the real Teams invitation. Later subscribers are added (and invited),
  leavers removed (Exchange cancels for them), beyond the attendee limit into further parts.
- The invitation is the same for everyone, so it carries no personal unsubscribe link: its text links
  to the series' leave page on the web, where an address gets its own link by mail.
- Once part 0's Teams meeting exists, its webinar options are set (meeting_options): lobby bypass for
  everyone, the speakers as presenters, recording on.
- A change of time or title (the session's SEQUENCE rose) updates every part; a cancelled session
  cancels its events. Each call that makes Exchange send mail keeps the mailbox's shared pace and
  counts its recipients against the daily limit.
- The organiser may edit the meeting in Outlook: an update reads the event first and changes only what
  is ours (the body text, without losing the join section; the attendees we added), sent with
  `If-Match` and read again when Exchange answers that it changed meanwhile (412). A meeting deleted in
  Outlook is made again; its new join link replaces the old one on the session (SEQUENCE rises, so the
  planner announces the change).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.commands import Actor
from bot.db import Database
from bot.models import Session as SessionRow
from bot.rendering import Renderer
from bot.services import audit
from bot.services.context import CoreConfig, Ctx
from bot.tokens import invite_url
from bot.views import SessionView
from handlers.microsoft365.calendar import Attendee, CalendarApi, EventContent
from handlers.microsoft365.errors import (
    GraphAuthError,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    GraphUnavailable,
    Health,
    LoginNeeded,
)
from handlers.microsoft365.event_update import digest, update_of
from handlers.microsoft365.mailbox import DailyLimitReached, Mailbox
from handlers.microsoft365.meeting_options import MeetingOptions
from handlers.microsoft365.meeting_parts import Part, Snapshot, assign, candidates, snapshot
from handlers.microsoft365.models import GraphEvent

log = logging.getLogger(__name__)

ACTOR = Actor(platform="graph", external_id="calendar", is_operator=True)
MEETINGS = "Teams meetings"  # the health area of the organiser mailbox's Teams meetings
CONFLICT_TRIES = 3  # reads and PATCHes of one event in a pass while the organiser keeps editing it


def no_teams(organiser: str) -> str:
    return (
        f"the organiser mailbox {organiser} cannot hold Teams meetings (its calendar does not allow "
        "teamsForBusiness): it needs a Teams licence; until then sessions get no join link"
    )


class CalendarSync:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        renderer: Renderer,
        api: CalendarApi,
        mailbox: Mailbox,
        config: CoreConfig,
        health: Health,
        max_attendees: int,
        leave_link: Callable[[str], str | None],
        options: MeetingOptions | None = None,
    ) -> None:
        self.db, self.clock, self.renderer, self.api = db, clock, renderer, api
        self.mailbox, self.config, self.health = mailbox, config, health
        self.max_attendees = max_attendees
        self.leave_link = leave_link  # a series' leave page by its slug (None without a public address)
        self.options = options  # the meeting's webinar options, set once it exists
        self._lock = threading.Lock()
        self._mailbox_checked = False

    def check_mailbox(self) -> bool | None:
        """Whether the organiser mailbox can hold Teams meetings (None: Graph could not say); a mailbox
        that cannot is a problem on the health board until it can."""
        try:
            ready = self.api.teams_meetings()
        except (GraphError, LoginNeeded) as exc:
            log.warning("calendar: cannot read the organiser mailbox's calendar: %s", exc)
            return None
        if ready:
            log.info("Microsoft 365: the organiser mailbox %s can hold Teams meetings", self.api.organiser)
            self.health.clear(MEETINGS)
        else:
            self.health.report(MEETINGS, no_teams(self.api.organiser))
        return ready

    def run_once(self) -> int:
        """One pass over every session that may need work; returns how many calls changed something."""
        if not self._mailbox_checked:  # the first pass, at start-up
            self._mailbox_checked = self.check_mailbox() is not None
        with self.db.read() as s:
            session_ids = candidates(s, self.clock.now())
        done = 0
        for session_id in session_ids:
            try:
                done += self.sync_session(session_id)
                if self.options is not None:  # its failure is its own: the invitation goes on
                    self.options.apply(session_id)
            except (DailyLimitReached, GraphThrottled) as exc:
                log.info("calendar: waiting for the next pass: %s", exc)
                return done
            except GraphAuthError as exc:
                self.health.report("calendar", str(exc))
                return done
            except (GraphError, IntegrityError) as exc:  # IntegrityError: another process made that part
                log.warning("calendar: session %s not synced this pass: %s", session_id, exc)
        self.health.clear("calendar")
        return done

    def ensure_meeting(self, session_id: int) -> str | None:
        """The session's join URL, making its meeting first when there is none yet, so a message about
        to go out carries it. A failure leaves the message without the link rather than holding it up."""
        try:
            with self._lock:
                with self.db.read() as s:
                    snap = snapshot(s, session_id, self.clock.now())
                if snap is None or snap.session.cancelled or snap.session.join_url:
                    return snap.session.join_url if snap else None
                part = snap.parts.get(0)
                if part is not None and part.event_id is not None:
                    return part.join_url
                return self._create(snap, 0, part, [], None)[0]
        except (GraphError, LoginNeeded, DailyLimitReached, IntegrityError) as exc:
            log.warning("calendar: no meeting for session %s yet: %s", session_id, exc)
            return None

    def sync_session(self, session_id: int) -> int:
        with self._lock:
            return self._sync_session(session_id)

    def _sync_session(self, session_id: int) -> int:
        with self.db.read() as s:
            snap = snapshot(s, session_id, self.clock.now())
        if snap is None:
            return 0
        if snap.session.cancelled:
            return self._cancel(snap)
        current = {number: part.attendee_ids for number, part in snap.parts.items()}
        plan = assign(current, list(snap.people), self.max_attendees) if snap.inviting else {0: []}
        join_url, done = snap.session.join_url, 0
        for number in sorted(plan):
            part = snap.parts.get(number)
            if part is None or part.event_id is None:
                join_url, made = self._create(snap, number, part, plan[number], join_url)
                done += 1
                if snap.inviting and set(made.attendee_ids) != set(plan[number]):
                    # Made by another process first (the same transaction id): bring it in step now.
                    done += self._update(snap, made, plan[number], join_url)
            else:
                done += self._update(snap, part, plan[number], join_url)
        return done

    def _content(self, session: SessionView, join_url: str | None) -> EventContent:
        series = session.series
        body = self.renderer.render(
            "microsoft365/event.html",
            {
                "session": session,
                "series": series,
                "join_url": join_url,
                "leave_url": self.leave_link(series.slug),
                "invite_url": invite_url(self.config.public_base_url, series.slug),
            },
            language=series.language,
            timezone=series.timezone,
            fmt="html",
        )
        return EventContent(f"{series.name}: {session.title}", body, session.start, session.end, join_url)

    def _create(
        self, snap: Snapshot, number: int, part: Part | None, attendee_ids: list[int], join_url: str | None
    ) -> tuple[str | None, Part]:
        """POST the part's event; its join URL and the part as recorded. The attendees recorded are
        those the event has: when another process made it first with the same transaction id, Graph
        answers with that event, whose attendees may differ from `attendee_ids`."""
        row = part or self._reserve(snap.session.id, number, online=number == 0 and join_url is None)
        content = self._content(snap.session, None if row.online else join_url)
        people = [snap.people[p] for p in attendee_ids]
        with self._counted(len(people)):
            created = self.api.create(content, people, online=row.online, transaction_id=row.transaction_id)
        meeting_url = created.join_url if row.online else None
        if row.online and not meeting_url:
            self.health.report(MEETINGS, no_teams(self.api.organiser))
        elif row.online:
            self.health.clear(MEETINGS)
        present = attendee_ids
        if created.attendees is not None:
            present = [p for p, person in snap.people.items() if person.email.lower() in created.attendees]
        addresses = frozenset(snap.people[p].email.lower() for p in present)
        self._record(
            row.id,
            snap,
            present,
            addresses,
            digest(content.body_html),
            event_id=created.id,
            join_url=meeting_url,
            ical_uid=created.ical_uid,
        )
        log.info(
            "calendar: session %s part %s created with %s attendees", snap.session.id, number, len(present)
        )
        made = replace(
            row,
            event_id=created.id,
            join_url=meeting_url or row.join_url,
            attendee_ids=tuple(present),
            invited=row.invited or snap.inviting,
            synced_sequence=snap.session.sequence,
            addresses=addresses,
            body_digest=digest(content.body_html),
        )
        return meeting_url or join_url, made

    def _update(self, snap: Snapshot, part: Part, attendee_ids: list[int], join_url: str | None) -> int:
        assert part.event_id is not None
        content = None
        if part.synced_sequence != snap.session.sequence:
            content = self._content(snap.session, None if part.online else join_url)
        inviting = snap.inviting and (set(part.attendee_ids) != set(attendee_ids) or not part.invited)
        if content is None and not inviting:
            return 0
        wanted = [snap.people[p] for p in attendee_ids] if inviting else None
        try:
            for attempt in range(1, CONFLICT_TRIES + 1):
                try:
                    body_digest = self._patch(part, part.event_id, content, wanted)
                    break
                except GraphConflict:
                    if attempt == CONFLICT_TRIES:
                        raise
                    log.info(
                        "calendar: session %s's event changed meanwhile: reading it again", snap.session.id
                    )
        except GraphNotFound:
            log.warning(
                "calendar: the event of session %s part %s is gone: making it again",
                snap.session.id,
                part.part,
            )
            self._forget(part.id)
            return 0
        addresses = part.addresses if wanted is None else frozenset(a.email.lower() for a in wanted)
        self._record(
            part.id,
            snap,
            attendee_ids if snap.inviting else list(part.attendee_ids),
            addresses,
            body_digest,
        )
        return 1

    def _patch(
        self, part: Part, event_id: str, content: EventContent | None, wanted: Sequence[Attendee] | None
    ) -> str | None:
        """Read the event and PATCH what differs from ours, if it did not change meanwhile (else
        GraphConflict); returns the digest of the body text it now has from us."""
        update = update_of(part, self.api.read(event_id), content, wanted)
        if update.fields:
            with self._counted(update.recipients):
                self.api.update(event_id, update.fields, etag=update.etag)
        return update.body_digest

    def _cancel(self, snap: Snapshot) -> int:
        comment = self.renderer.render(
            "microsoft365/event_cancelled.txt",
            {"session": snap.session, "series": snap.session.series},
            language=snap.session.series.language,
            timezone=snap.session.series.timezone,
        )
        done = 0
        for part in sorted(snap.parts.values(), key=lambda p: p.part):
            if part.event_id is None or part.cancelled:
                continue
            if part.invited and part.attendee_ids:
                with self._counted(len(part.attendee_ids)):
                    self.api.cancel(part.event_id, comment)
            else:
                self.api.delete(part.event_id)
            with self.db.transaction() as s:
                row = s.get(GraphEvent, part.id)
                if row is not None:
                    row.cancelled, row.updated_at = True, self.clock.now()
            done += 1
        return done

    def _counted(self, recipients: int) -> _Counted:
        return _Counted(self.mailbox, recipients)

    def _reserve(self, session_id: int, number: int, *, online: bool) -> Part:
        """Store the part with its transaction id before the first POST, so a retry reuses the id; when
        another process stored it first, its row (and so its transaction id: Graph makes one event)."""
        try:
            return self._insert_part(session_id, number, online=online)
        except IntegrityError:
            with self.db.read() as s:
                row = s.scalar(
                    select(GraphEvent).where(GraphEvent.session_id == session_id, GraphEvent.part == number)
                )
                if row is None:
                    raise
                return Part.of(row)

    def _insert_part(self, session_id: int, number: int, *, online: bool) -> Part:
        with self.db.transaction() as s:
            row = GraphEvent(
                session_id=session_id,
                part=number,
                transaction_id=uuid.uuid4().hex,
                online_meeting=online,
                attendee_ids=[],
                invited=False,
                synced_sequence=0,
                cancelled=False,
                updated_at=self.clock.now(),
            )
            s.add(row)
            s.flush()
            return Part.of(row)

    def _record(
        self,
        row_id: int,
        snap: Snapshot,
        attendee_ids: Sequence[int],
        addresses: frozenset[str] | None,
        body_digest: str | None,
        *,
        event_id: str | None = None,
        join_url: str | None = None,
        ical_uid: str | None = None,
    ) -> None:
        now = self.clock.now()
        with self.db.transaction() as s:
            row = s.get(GraphEvent, row_id)
            if row is None:
                return
            previous_url = row.join_url
            row.event_id = event_id or row.event_id
            row.join_url = join_url or row.join_url
            row.ical_uid = ical_uid or row.ical_uid
            row.attendee_ids = list(attendee_ids)
            row.attendee_addresses = None if addresses is None else sorted(addresses)
            row.body_digest = body_digest
            row.invited = row.invited or snap.inviting
            row.synced_sequence, row.updated_at = snap.session.sequence, now
            session = s.get(SessionRow, snap.session.id)
            if join_url and session is not None and session.join_url in (None, previous_url):
                self._adopt(Ctx(s, ACTOR, now, self.config), session, row, join_url)

    def _adopt(self, ctx: Ctx, session: SessionRow, row: GraphEvent, join_url: str) -> None:
        """The session takes its meeting's join link. A new meeting made for one deleted in Outlook
        replaces the old link: SEQUENCE rises (the calendar entry changed, the other parts follow, the
        planner announces it), this event already made with the session as it is."""
        action = "session.meeting_created"
        if session.join_url is not None and session.join_url != join_url:
            action = "session.meeting_replaced"
            if row.synced_sequence == session.sequence:
                row.synced_sequence += 1
            session.sequence += 1
            session.updated_at = ctx.now
        session.join_url = join_url
        audit.record(ctx, action, series_id=session.series_id, subject=("session", session.id))

    def _forget(self, row_id: int) -> None:
        with self.db.transaction() as s:
            row = s.get(GraphEvent, row_id)
            if row is not None:
                row.event_id, row.invited, row.attendee_ids, row.ical_uid = None, False, [], None
                row.attendee_addresses, row.body_digest = [], None
                row.transaction_id = uuid.uuid4().hex


class _Counted:
    """Around a call that makes Exchange send mail: keep the pace and count the recipients; give them
    back when the call surely sent nothing (throttled or refused)."""

    def __init__(self, mailbox: Mailbox, recipients: int) -> None:
        self.mailbox, self.recipients = mailbox, recipients
        self.ledger: int | None = None

    def __enter__(self) -> None:
        if self.recipients > 0:
            self.ledger = self.mailbox.wait_for_slot(self.recipients, "meeting")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        in_doubt = isinstance(exc, GraphUnavailable) and exc.in_doubt
        if exc is not None and self.ledger is not None and not in_doubt:
            self.mailbox.refund(self.ledger)
