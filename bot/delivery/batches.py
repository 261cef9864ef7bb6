"""Mail in batches: one message to many subscribers in Bcc (MAIL_BATCH=bcc), for a transport whose
messages, not recipients, are what is slow (Exchange Online: 30 messages a minute, 500 recipients
each, the To: included: 10,000 reminders in 21 messages instead of 10,000).

A batch is one outbox row, so one send with one stable Message-ID, and exactly-once holds per batch
as it does per mail. Its target names the people it holds without listing them: the subscribers of
one language whose ids lie in a range (`batch:nb:101-977`), cut when the fan-out is planned. At
sending the range is read fresh: who left since, or was erased, is left out; who joined after the
fan-out was planned (or too shortly before a reminder, as for one mail each) is not added. The
batches of a language cover disjoint ranges, so nobody is in two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import kinds
from bot.delivery.channels import Headcount, Recipient, Target
from bot.delivery.durations import parse_offset
from bot.models import Person, Subscription
from bot.views import SeriesView

PREFIX = "batch:"
_TARGET = re.compile(r"^batch:([a-z]{2}):(\d+)-(\d+)$")


def batch_targets(recipients: Sequence[Recipient], most: int) -> list[Target]:
    """Those of `recipients` with an address, by language and id, in batches of at most `most`."""
    by_language: dict[str, list[int]] = {}
    for r in sorted(recipients, key=lambda r: r.person_id):
        if r.email:
            by_language.setdefault(r.language, []).append(r.person_id)
    targets: list[Target] = []
    for language, ids in sorted(by_language.items()):
        for start in range(0, len(ids), most):
            chunk = ids[start : start + most]
            targets.append(Target(f"{PREFIX}{language}:{chunk[0]}-{chunk[-1]}", language))
    return targets


def batch_count(headcount: Headcount, most: int) -> int:
    """How many targets `batch_targets` makes of these people."""
    return sum(-(-n // most) for n in headcount.by_language(lambda p: p.mailable).values())


def is_batch(target: str) -> bool:
    return target.startswith(PREFIX)


def covered(targets: Sequence[Target], recipients: Sequence[Recipient]) -> set[int]:
    """The ids of those of `recipients` that the batch targets among `targets` hold."""
    spans = [
        (found.group(1), int(found.group(2)), int(found.group(3)))
        for found in (_TARGET.match(t.target) for t in targets)
        if found is not None
    ]
    if not spans:
        return set()
    return {
        r.person_id
        for r in recipients
        if r.email and any(r.language == lang and low <= r.person_id <= high for lang, low, high in spans)
    }


def batch_members(
    s: Session,
    series: SeriesView,
    target: str,
    kind: str,
    payload: dict[str, object],
    planned_at: datetime,
    due_at: datetime,
) -> tuple[Recipient, ...]:
    """The batch's people as they are now: still subscribed, an address, its language, subscribed
    before the fan-out was planned (and, for a reminder, at least its offset before it)."""
    found = _TARGET.match(target)
    if found is None:
        return ()
    language, low, high = found.group(1), int(found.group(2)), int(found.group(3))
    cutoff = planned_at
    offset = payload.get("offset")
    if kind == kinds.REMINDER and isinstance(offset, str) and offset != "manual":
        cutoff = min(cutoff, due_at - timedelta(seconds=parse_offset(offset).seconds))
    rows = s.execute(
        select(Person.id, Person.language, Person.name, Person.email, Subscription.consented_at)
        .join(Subscription, Subscription.person_id == Person.id)
        .where(
            Subscription.series_id == series.id,
            Subscription.active.is_(True),
            Person.id.between(low, high),
            Person.email.is_not(None),
        )
        .order_by(Person.id)
    )
    return tuple(
        Recipient(person_id, lang or series.language, name, email, subscribed_at=since)
        for person_id, lang, name, email, since in rows
        if (lang or series.language) == language and (since is None or since <= cutoff)
    )
