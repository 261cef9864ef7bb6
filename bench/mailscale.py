"""Mail at scale: a session for 10,000 subscribers who have only an address, through the Graph fake
with Exchange's caps (30 messages a minute, 500 recipients a message, scaled in time like the mail
figure of the fan-out), sent by a real `baerekraft-bot run --no-console` with MAIL_BATCH=bcc.

The week of a session is compressed into minutes: the invitation (the Teams meeting, whose
attendees Exchange invites), two reminders and the follow-up fall tens of seconds apart. In so short a
run all four fall within one rolling day, so the day's cap (10,000 recipients) is lifted for the run
in the bot and the fake alike; what the day means for the real schedule (7 days, 1 day and 1 hour
before, 2 hours after) is worked out by the bot's own weighing (`bot.delivery.daily_caps`) on the same
numbers, and reported beside it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from bench.common import BotProcess, bot_environment, free_port, fresh_sqlite, microsoft_environ
from bench.fakes import PacedGraph
from bench.population import add_subscribers, plan_sessions
from bot.db import Database, make_engine
from bot.delivery import kinds
from bot.delivery.channels import DailyCap
from bot.delivery.daily_caps import Load, overruns
from bot.models import PresentationLink
from bot.models import Session as SessionRow
from tests.microsoft365.fakes.identity_provider import FakeIdentityProvider

DOMAIN = "scale.example"
BATCH = 500
CAP = 10_000
LIFTED = 10_000_000
MARGIN = 30.0  # seconds for the bot to start and plan before the first message falls due
# Seconds after the first due moment at which the compressed messages fall due (a 1-minute session).
STEPS = {"invitation": 0, "reminder 1": 20, "reminder 2": 40, "followup": 130}
REAL = {  # the default schedule: offsets from the session's start (a 60-minute session)
    "invitation": -timedelta(days=7),
    "reminder 1": -timedelta(days=1),
    "reminder 2": -timedelta(hours=1),
    "followup": timedelta(hours=3),
}


@dataclass
class MessageOutcome:
    name: str
    batches: int
    recipients: int
    floor_seconds: float
    wall_seconds: float | None
    first_seconds: float | None = None  # due → the first batch accepted


@dataclass
class MailScaleRun:
    subscribers: int
    scale: float
    messages: list[MessageOutcome] = field(default_factory=list)
    mails: int = 0
    mail_recipients: int = 0
    meeting_invitations: int = 0
    largest_mail: int = 0
    throttled: int = 0
    calls: int = 0
    duplicates: int = 0
    people_twice: int = 0
    busiest_day: int = 0
    unbatched_sending_hours: float = 0.0
    notes: list[str] = field(default_factory=list)
    log_tail: str = ""


def run_mailscale(folder: Path, subscribers: int, mail_per_minute: float, scale: float) -> MailScaleRun:
    run = MailScaleRun(subscribers, scale)
    db_url = fresh_sqlite(folder, "mailscale.db")
    add_subscribers(db_url, subscribers, email_domain=DOMAIN, channel="web")
    rate = mail_per_minute / 60 * scale  # messages a second, scaled
    idp = FakeIdentityProvider().start()
    graph = PacedGraph(idp, per_second=rate, burst=mail_per_minute).start()
    graph.tenant.recipients_per_day = LIFTED
    port = free_port()
    env = bot_environment(
        db_url,
        port,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        **microsoft_environ(idp, graph),
        MAIL_RATE_PER_MINUTE=str(round(mail_per_minute * scale)),
        MAIL_DAILY_RECIPIENTS=str(LIFTED),
        MAIL_MAX_RECIPIENTS=str(BATCH),
        MAIL_BATCH="bcc",
        CALENDAR_SYNC_INTERVAL="5",
    )
    try:
        base = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=MARGIN)
        start = base + timedelta(seconds=60)  # the invitation 60 s before, reminders 40 s and 20 s
        [session_id] = plan_sessions(db_url, [start], invitation="60s", reminders="40s,20s", followup="10s")
        _one_minute_with_slides(db_url, session_id, base)
        bot = BotProcess.start(env, folder, "mailscale-bot.log")
        try:
            deadline = base.timestamp() + STEPS["followup"] + 120
            while time.time() < deadline:
                if time.time() > base.timestamp() + STEPS["followup"] and _sent(graph) >= 3 * subscribers:
                    break
                if bot.proc.poll() is not None:
                    run.notes.append("the bot stopped")
                    break
                time.sleep(0.5)
            time.sleep(2.0)  # anything sent twice would show up now
        finally:
            bot.stop()
            run.log_tail = bot.log_tail(30)
        _measure(run, graph, base, rate)
    finally:
        graph.stop()
        idp.stop()
    _the_real_day(run)
    return run


def _sent(graph: PacedGraph) -> int:
    with graph.tenant.lock:
        return sum(len(m.bcc) for m in graph.tenant.mails if "X-Baerekraft-Delivery" in m.headers)


def _one_minute_with_slides(db_url: str, session_id: int, now: datetime) -> None:
    """The session lasts a minute and has its slides (added long before: no waiting for more)."""
    engine = make_engine(db_url)
    with Database(engine).transaction() as s:
        s.execute(update(SessionRow).where(SessionRow.id == session_id).values(duration_minutes=1))
        link = PresentationLink(
            session_id=session_id,
            title="Lysark",
            url="https://ks.no/lysark.pdf",
            added_at=now - timedelta(hours=1),
        )
        s.add(link)
    engine.dispose()


def _name(fanout_key: str) -> str:
    """`s1:reminder:40s` → "reminder 1" (the earlier, larger offset), `s1:followup` → "followup"."""
    if ":followup" in fanout_key:
        return "followup"
    return "reminder 1" if ":reminder:40s:" in fanout_key else "reminder 2"


def _measure(run: MailScaleRun, graph: PacedGraph, base: datetime, rate: float) -> None:
    tenant = graph.tenant
    with tenant.lock:
        mails = [m for m in tenant.mails if "X-Baerekraft-Delivery" in m.headers]
        run.meeting_invitations = len(tenant.mailed("invitation"))
    with graph._pace_lock:
        run.calls = len(graph.arrivals)
        arrived = {a.key: a.at for a in graph.arrivals if a.status < 300 and a.key}
    run.mails = len(mails)
    run.mail_recipients = sum(len(m.bcc) for m in mails)
    run.largest_mail = max((len(m.recipients) for m in mails), default=0)
    run.throttled, run.duplicates = graph.throttled(), graph.duplicates()
    per_message: dict[str, list[Any]] = {}
    for mail in mails:
        per_message.setdefault(_name(mail.headers["X-Baerekraft-Delivery"].split("|")[0]), []).append(mail)
    for name in ("reminder 1", "reminder 2", "followup"):
        sent = per_message.get(name, [])
        seen = Counter(a for m in sent for a in m.bcc)
        run.people_twice += sum(1 for n in seen.values() if n > 1)
        times = [arrived[m.message_id] for m in sent if m.message_id in arrived]
        due = base.timestamp() + STEPS[name]
        floor = len(sent) / rate
        # From the due moment to the last batch accepted, plus the slot that batch took (as the floor).
        wall = max(times) - due + 1 / rate if times else None
        first = min(times) - due if times else None
        run.messages.append(MessageOutcome(name, len(sent), len(seen), floor, wall, first))
    run.messages.insert(0, MessageOutcome("invitation", 0, run.meeting_invitations, 0.0, None))


def _the_real_day(run: MailScaleRun) -> None:
    """The same recipients on the default schedule, weighed by the bot's own code: the busiest 24 h."""
    start = datetime(2027, 3, 5, 8, 0, tzinfo=UTC)
    cap = DailyCap("mail:bench", CAP)
    kinds_of = {"invitation": kinds.INVITATION, "followup": kinds.FOLLOWUP}
    loads = [
        Load(cap, "email", 1, 1, kinds_of.get(name, kinds.REMINDER), start + offset, run.subscribers)
        for name, offset in REAL.items()
    ]
    found = overruns(loads)
    run.busiest_day = max((o.recipients for o in found), default=run.subscribers)
    # One mail each at 30 a minute: the two reminders alone.
    run.unbatched_sending_hours = 2 * run.subscribers / 30 / 60


def summary(run: MailScaleRun) -> dict[str, Any]:
    return {
        "subscribers": run.subscribers,
        "time_scale": run.scale,
        "messages": [m.__dict__ for m in run.messages],
        "mails": run.mails,
        "mail_recipients": run.mail_recipients,
        "meeting_invitations": run.meeting_invitations,
        "largest_mail_recipients": run.largest_mail,
        "calls": run.calls,
        "429s": run.throttled,
        "duplicates": run.duplicates,
        "people_mailed_twice": run.people_twice,
        "busiest_real_day_recipients": run.busiest_day,
        "cap": CAP,
        "unbatched_two_reminders_hours": round(run.unbatched_sending_hours, 1),
        "notes": run.notes,
    }
