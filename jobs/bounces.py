"""Reading bounces: every few minutes each bounce mailbox the channels offer is read, each report
recorded (bot/services/bounces.py), and the organisers of every series a suspended person
subscribes to are told, through the channels they use, in the same transaction.

A mailbox that cannot be read now (Graph throttling or an outage, after the client's own retries;
an IMAP server that does not answer) fails this run only: the error policy logs it once with its
place and no secrets, /healthz shows it, and the next run reads on from where the last one
stopped."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.bounce_report import Bounce, bounces_in
from bot.bounce_source import BounceSource, ReturnedMail
from bot.commands import Actor
from bot.delivery import kinds
from bot.delivery.fanouts import notify_organisers
from bot.models import Person, Series
from bot.services import bounces
from bot.services.context import Ctx
from jobs.context import JobContext

log = logging.getLogger(__name__)

POLL_SECONDS = 300
BOUNCES = Actor(platform="bounces", external_id="bounces", is_operator=True)


def poll_bounces(app: JobContext, sources: Sequence[BounceSource]) -> int:
    """Read every source once; the number of bounces recorded."""
    recorded = 0
    for source in sources:
        with app.errors.guard(f"bounces from {source.name}"):

            def handle(mail: ReturnedMail, source: BounceSource = source) -> None:
                nonlocal recorded
                recorded += record(app, source.name, mail)

            source.read(handle)
    return recorded


def record(app: JobContext, source: str, mail: ReturnedMail) -> int:
    """One returned message: its bounces kept, suspensions made and announced, in one transaction."""
    found = bounces_in(mail.mime)
    if not found:
        return 0
    now = app.clock.now()
    with app.db.transaction() as s:
        ctx = Ctx(s, BOUNCES, now, app.config)
        outcome = bounces.record_report(ctx, f"{source}:{mail.ref}", found)
        for person_id in outcome.suspended:
            _tell_organisers(app, ctx, person_id, found)
    if outcome.suspended:
        log.info("mail suspended for %d person(s) after repeated hard bounces", len(outcome.suspended))
        app.delivery.wake()
    return outcome.added


def _tell_organisers(app: JobContext, ctx: Ctx, person_id: int, found: list[Bounce]) -> None:
    person = ctx.s.get(Person, person_id)
    if person is None or person.email is None:
        return
    status = next((b.status for b in found if b.recipient == person.email.lower()), found[0].status)
    payload: dict[str, object] = {
        "person_id": person_id,
        "who": person.name or person.email,
        "address": person.email,
        "bounces": bounces.HARD_BOUNCES,
        "status": status,
        "since": ctx.now.isoformat(),
    }
    stamp = ctx.now.isoformat()
    for series_id in bounces.series_of(ctx, person_id):
        series = ctx.s.get(Series, series_id)
        if series is not None:
            key = f"mail_suspended:{person_id}:{series_id}:{stamp}"
            notify_organisers(
                ctx.s, app.delivery.senders, series, None, kinds.MAIL_SUSPENDED, key, payload, ctx.now
            )
