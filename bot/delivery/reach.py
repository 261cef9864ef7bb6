"""Who no configured channel reaches: subscribers the bot holds but cannot tell anything (an imported
address with no mail transport, a Slack user without Slack). Shown wherever an operator or organiser
looks (`/healthz`, `send --dry-run`, `series show`, `antall`, the start-up log), never silently.

A subscriber is reached when some sender, for some kind of public message, has a target that is them
(a mail, a direct message, an activity-feed notice), or posts to a place shared by everyone (an
announcement channel) on a platform where they have an account (the sender's channel name is the
identity's platform: "slack", "teams", "console").
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import kinds
from bot.delivery.batches import covered, is_batch
from bot.delivery.channels import Recipient, Sender
from bot.delivery.recipients import subscribers
from bot.models import Series
from bot.views import SeriesView


def unreached(s: Session, series: Series, senders: Sequence[Sender]) -> list[Recipient]:
    """The series' active subscribers whom none of `senders` reaches."""
    return unreached_among(subscribers(s, series), SeriesView.of(series), senders)


def unreached_among(people: list[Recipient], view: SeriesView, senders: Sequence[Sender]) -> list[Recipient]:
    """Those of `people` (a series' subscribers) whom none of `senders` reaches."""
    left = people
    for sender in senders:
        for kind in sorted(kinds.PUBLIC):
            if not left:
                return left
            targets = sender.audience(kind, view, left)
            reached = {t.person_id for t in targets if t.person_id is not None} | covered(targets, left)
            shared = any(t.person_id is None and not is_batch(t.target) for t in targets)
            left = [
                p
                for p in left
                if p.person_id not in reached and not (shared and sender.channel in p.identities)
            ]
    return left


def unreached_by_series(s: Session, senders: Sequence[Sender]) -> dict[str, int]:
    """Per series' slug, how many of its subscribers no sender reaches (only series with any)."""
    counts = {
        one.slug: len(unreached(s, one, senders)) for one in s.scalars(select(Series).order_by(Series.id))
    }
    return {slug: count for slug, count in counts.items() if count}
