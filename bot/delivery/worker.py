"""A channel's worker: claims due outbox rows, keeps the pace, sends, and records the outcome."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.db import Database
from bot.delivery import events, pacing
from bot.delivery.channels import (
    BulkSender,
    ChannelUnavailable,
    NotSent,
    OutgoingMessage,
    Pace,
    PermanentError,
    RetryLater,
    Sender,
    TransientError,
    Unverifiable,
)
from bot.delivery.events import NoEvents, SendEvents
from bot.delivery.outages import Outages
from bot.delivery.outbox import Claimed, Outbox, SentMark
from bot.error_policy import ErrorPolicy, describe
from bot.memory import release_free_memory

log = logging.getLogger(__name__)

IDLE_POLL = 2.0  # seconds between looks at the outbox when idle (another process may have added work)
TRIM_AFTER = 1000  # rows sent before an idle worker gives freed memory back (a fan-out, not every message)
# The claim on the rest of a batch is renewed once this share of the lease has passed, so it always
# has at least the other two thirds to run, whatever the worker waits for.
RENEW_AFTER = 1 / 3
SHORT_WAIT = timedelta(milliseconds=200)  # a wait for the send slot this short is taken in flight
# Rows sent are recorded with the next claim; a row's start records them too once this many are
# waiting, or the first of them waited this long (a slow pace claims seldom).
RECORD_BATCH = 10
RECORD_WITHIN = timedelta(seconds=1)


class Worker:
    """Sends what it claims, a batch at a time. With `in_flight` > 1 (a platform whose round trips are
    slower than its pace) that many rows go out at once, threads sharing the database's pace, their
    starts booked several to a transaction, and the next batch is claimed while the last rows of the
    current one are still under way, so the pace never waits for a batch to drain.

    A row sent is recorded with the worker's next transaction (the next row's start, the next claim,
    before a long wait for a slot, at the latest when `run_once` ends), not in a commit of its own:
    until then it stays in flight, its lease renewed, so a crash leaves it in doubt, looked up on the
    platform before any resend."""

    def __init__(
        self,
        sender: Sender,
        db: Database,
        outbox: Outbox,
        outages: Outages,
        clock: Clock,
        errors: ErrorPolicy,
        batch: int = 10,
        in_flight: int = 1,
        report: SendEvents | None = None,
    ) -> None:
        self.sender, self.db, self.outbox, self.clock, self.errors = sender, db, outbox, clock, errors
        self.outages = outages
        self.report = report or NoEvents()
        self.bulk = sender if isinstance(sender, BulkSender) else None
        self.batch = max(batch, in_flight, self.bulk.bulk_most if self.bulk is not None else 1)
        self.in_flight = in_flight
        self.name = f"{sender.channel}-{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._pool = ThreadPoolExecutor(in_flight, f"send-{self.name}") if in_flight > 1 else None
        self._lock = threading.Lock()  # guards the two below; one renewal at a time
        self._held: list[int] = []  # claimed by this worker, not yet begun
        self._sending: set[int] = set()  # being sent by this worker right now, or sent and not recorded
        self._unrecorded: dict[int, SentMark] = {}  # sent, to be recorded with the next transaction
        self._renewed_at: datetime | None = None
        self._recovered_at: datetime | None = None

    def run_once(self) -> int:
        """Send what is due now and record it; returns how many rows were taken."""
        now = self.clock.now()
        self._recover(now)
        claimed = self._claim(now)
        try:
            if self.bulk is not None:
                self._take_bulk(self.bulk, claimed)
                return len(claimed)
            if self._pool is None:
                for number, item in enumerate(claimed):
                    try:
                        self._take(item)
                    except BaseException:
                        self._let_go([rest.id for rest in claimed[number + 1 :]])  # not begun: for others
                        raise
                return len(claimed)
            return self._run_in_flight(claimed)
        finally:
            self.record_sent()

    def record_sent(self) -> None:
        """Record the rows sent since the worker's last transaction, if any, in a transaction now."""
        with self._recording() as marks:
            if marks:
                with self.db.transaction() as s:
                    self.outbox.sent_in(s, marks)

    @contextmanager
    def _recording(self, *, when_due: bool = False) -> Iterator[list[SentMark]]:
        """The rows sent and not yet recorded, for the caller's transaction to record (`when_due`:
        none unless RECORD_BATCH wait or the first waited RECORD_WITHIN): taken out of the worker's
        hands if the block ends well, put back (and renewed again) if it fails."""
        with self._lock:
            marks = list(self._unrecorded.values())
            early = when_due and marks and len(marks) < RECORD_BATCH
            if early and self.clock.now() - min(m.at for m in marks) < RECORD_WITHIN:
                marks = []
            for mark in marks:
                del self._unrecorded[mark.delivery_id]
        try:
            yield marks
        except BaseException:
            with self._lock:
                self._unrecorded = {m.delivery_id: m for m in marks} | self._unrecorded
                self._sending.update(m.delivery_id for m in marks)
            raise
        with self._lock:
            self._sending.difference_update(m.delivery_id for m in marks)

    def _take_bulk(self, sender: BulkSender, claimed: list[Claimed]) -> None:
        """Rows with the same message go out in one call per `bulk_most`; a probe, a row in doubt
        and one the sender sends alone go one by one. On an error (the database went away) the
        rows not begun are handed back and those begun are no longer renewed: they come back in
        doubt when their lease runs out."""
        try:
            self._take_bulk_rows(sender, claimed)
        except BaseException:
            self._let_go([item.id for item in claimed])
            with self._lock:
                self._sending.difference_update(item.id for item in claimed)
            raise

    def _take_bulk_rows(self, sender: BulkSender, claimed: list[Claimed]) -> None:
        groups: dict[str, list[tuple[Claimed, OutgoingMessage]]] = {}
        for item in claimed:
            if item.probe or self.stopping.is_set():
                self._take(item)
                continue
            message = self.outbox.begin(item.id, self.name, self.clock.now())
            self._begun(item.id, message)
            if message is not None:
                key = None if message.in_doubt else sender.bulk_key(message)
                groups.setdefault(key or f"alone:{item.id}", []).append((item, message))
        for group in groups.values():
            for start in range(0, len(group), sender.bulk_most):
                self._send_group(sender, group[start : start + sender.bulk_most])

    def _send_group(self, sender: BulkSender, group: list[tuple[Claimed, OutgoingMessage]]) -> None:
        """One call for the group, after the pace allows it; its outcome recorded for every row."""
        try:
            alone = len(group) == 1
            paces = sender.pacing(group[0][0].target) if alone else sender.bulk_pacing()
            with self._recording(when_due=True) as marks, self.db.transaction() as s:
                self.outbox.sent_in(s, marks)
                slot = pacing.reserve(s, paces, self.clock.now())
            if slot - self.clock.now() > SHORT_WAIT:
                self.record_sent()  # not left in flight through a long wait
            self.clock.sleep(max((slot - self.clock.now()).total_seconds(), 0.0))
            if alone:
                self._outcome(*group[0], paces)
                return
            failure: Exception | None = None
            try:
                sender.send_many([message for _, message in group])
            except Exception as exc:  # recorded for each row below, as one send's would be
                failure = exc
            for item, message in group:
                self._outcome(item, message, paces, attempt=_replay(failure))
        finally:
            with self._lock:
                self._sending.difference_update(
                    item.id for item, _ in group if item.id not in self._unrecorded
                )

    def _claim(self, now: datetime) -> list[Claimed]:
        with self._recording() as sent:
            claimed = self.outbox.claim(self.sender.channel, self.name, now, self.batch, sent=sent)
        with self._lock:
            if not self._held:  # the rows held before, if any, keep their renewal schedule
                self._renewed_at = now
            self._held += [c.id for c in claimed]
        return claimed

    def _run_in_flight(self, claimed: list[Claimed]) -> int:
        """`in_flight` sends at once. This thread books the slots of the next rows and marks them in
        flight, several in one transaction, once at least half the sends are done; the pool's
        threads each wait for a row's slot and send it. More rows are claimed as soon as the last
        ones are booked. No more than `in_flight` rows are ever in flight unsent, as with a thread
        that books its own row: when the channel goes down, no more of them meet it."""
        assert self._pool is not None
        waiting = deque(claimed)  # claimed, not booked yet
        taken, more = len(claimed), bool(claimed)
        pending: set[Future[None]] = set()
        failure: BaseException | None = None
        batch = max(1, self.in_flight // 2)  # sends done before the next rows are booked
        try:
            while True:
                room = self.in_flight - len(pending)
                if failure is None and room >= batch and not self.stopping.is_set():
                    try:
                        if not waiting and more:
                            fresh = self._claim(self.clock.now())
                            taken, more = taken + len(fresh), bool(fresh)
                            waiting.extend(fresh)
                        if waiting:
                            pending |= self._start_some(self._pool, waiting, room)
                            continue
                    except BaseException as exc:  # e.g. the database went away: the sends under way end first
                        failure = exc
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    failure = failure or future.exception()
        finally:
            self._let_go([item.id for item in waiting])  # not booked: for others (stopping, or an error)
        if failure is not None:
            raise failure  # the first error, once the rows under way are done
        return taken

    def _start_some(self, pool: ThreadPoolExecutor, waiting: deque[Claimed], most: int) -> set[Future[None]]:
        """Book the slots of up to `most` of the next rows and mark in flight, in one transaction,
        those whose slot is at most SHORT_WAIT away; each goes to the pool, which sends it in its
        slot. Booking ends with the first row whose slot is further away: it goes to the pool not
        begun, to be begun once its slot has come (a crash while waiting loses nothing)."""
        rows = [waiting[number] for number in range(min(most, len(waiting)))]
        paces = [self.sender.pacing(item.target) for item in rows]
        now, slots, messages = self._book(rows, paces)
        futures: set[Future[None]] = set()
        for item, slot, item_paces in zip(rows, slots, paces, strict=False):
            waiting.popleft()
            if slot - now > SHORT_WAIT:
                futures.add(pool.submit(self._send_later, item, slot, item_paces))
                continue
            message = messages[item.id]
            self._begun(item.id, message)
            if message is not None:
                futures.add(pool.submit(self._send_in_flight, item, message, item_paces, slot))
        return futures

    def _book(
        self, rows: list[Claimed], paces: list[list[Pace]]
    ) -> tuple[datetime, list[datetime], dict[int, OutgoingMessage | None]]:
        """In one transaction, which also records the rows sent since the last: book the slots of
        `rows` in order, up to the first more than SHORT_WAIT away, and mark in flight those within
        it. Returns the moment booked from, the slots booked and the messages of the rows begun."""
        self._keep_claim()
        with self._recording(when_due=True) as sent, self.db.transaction() as s:
            self.outbox.sent_in(s, sent)
            now = self.clock.now()
            slots = pacing.reserve_each(s, paces, now, within=SHORT_WAIT)
            soon = [item for item, slot in zip(rows, slots, strict=False) if slot - now <= SHORT_WAIT]
            return now, slots, self.outbox.begin_all_in(s, soon, self.name, now)

    def _send_later(self, item: Claimed, slot: datetime, paces: list[Pace]) -> None:
        """A row whose slot was booked further than SHORT_WAIT ahead: begun once it has come."""
        message = self._begin_at(item, slot)
        if message is not None:
            self._send_in_flight(item, message, paces)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def drain(self, limit: int = 1_000_000) -> int:
        """Run until nothing is due (tests, manual sends); returns how many rows were taken."""
        total = 0
        while total < limit and (taken := self.run_once()):
            total += taken
        return total

    def run(self) -> None:
        """The thread's loop: work while there is work, otherwise wait to be woken or poll. Beside it
        a thread keeps the leases of the rows in hand, as a send may take longer than a lease."""
        keeper = threading.Thread(target=self._keep_leases, name=f"lease-{self.name}", daemon=True)
        keeper.start()
        taken = 0  # rows taken since the memory was last given back
        while not self.stopping.is_set():
            with self.errors.guard(f"delivery worker {self.sender.channel}"):
                if count := self.run_once():
                    taken += count
                    continue
                if taken >= TRIM_AFTER:  # a fan-out's worth of objects freed: give the pages back
                    taken = 0
                    release_free_memory()
                self.wake.wait(self._idle_wait())
                self.wake.clear()
                continue
            self.stopping.wait(IDLE_POLL)  # a database hiccup must not end the worker: again shortly
        with self.errors.guard(f"delivery worker {self.sender.channel}"):
            self.record_sent()  # what a failed recording left (otherwise it comes back in doubt)

    def _idle_wait(self) -> float:
        due = self.outbox.next_due(self.sender.channel)
        if due is None:
            return IDLE_POLL
        return max(0.0, min(IDLE_POLL, (due - self.clock.now()).total_seconds()))

    def _recover(self, now: datetime) -> None:
        """Take back the rows of dead workers; a lease lasts seconds, so once a second is soon enough."""
        last = self._recovered_at
        if last is None or not timedelta(0) <= now - last < timedelta(seconds=1):
            self.outbox.recover(now)
            self._recovered_at = now

    def _take(self, item: Claimed) -> None:
        """Deliver one claimed row, or hand it back to the others when stopping."""
        if self.stopping.is_set():
            self.outbox.release([item.id], self.name, self.clock.now())
        else:
            self._deliver(item)

    def _deliver(self, item: Claimed) -> None:
        paces = self.sender.pacing(item.target)
        message = self._begin(item, paces)
        if message is not None:
            self._send_in_flight(item, message, paces)

    def _send_in_flight(
        self, item: Claimed, message: OutgoingMessage, paces: list[Pace], slot: datetime | None = None
    ) -> None:
        """Send a row marked in flight, in its `slot` if one is given, and record what came of it."""
        try:
            if slot is not None:
                self.clock.sleep(max((slot - self.clock.now()).total_seconds(), 0.0))
            self._outcome(item, message, paces)
        finally:
            with self._lock:
                if item.id not in self._unrecorded:  # a row sent stays in flight until recorded
                    self._sending.discard(item.id)

    def _begin(self, item: Claimed, paces: list[Pace]) -> OutgoingMessage | None:
        """Book the row's pacing slot and mark it in flight; None when it goes back unsent.

        The slot is booked and the row marked in flight in one transaction when the slot is at most
        SHORT_WAIT away (the usual case: the sends in flight keep the pace busy); a crash in that
        moment leaves the row in doubt, checked with the platform before it is sent again. A longer
        wait comes first, so a crash while waiting loses nothing."""
        try:
            now, [slot], messages = self._book([item], [paces])
        except BaseException:
            self._let_go([item.id])  # e.g. the database went away: no renewing a row nobody will send
            raise
        if slot - now > SHORT_WAIT:
            return self._begin_at(item, slot)
        message = messages[item.id]
        self._begun(item.id, message)
        self.clock.sleep((slot - self.clock.now()).total_seconds())
        return message

    def _begin_at(self, item: Claimed, slot: datetime) -> OutgoingMessage | None:
        """Wait for a slot booked further ahead, then mark the row in flight; None when it goes back
        unsent (stopping first, or it must not go any more)."""
        try:
            self.record_sent()  # not left in flight through a long wait
            if not self._wait_until(slot):  # stopping: the row goes back to the others, unsent
                self._let_go([item.id])
                return None
            message = self.outbox.begin(item.id, self.name, self.clock.now(), probe=item.probe)
        except BaseException:
            self._let_go([item.id])
            raise
        self._begun(item.id, message)
        return message

    def _begun(self, delivery_id: int, message: OutgoingMessage | None) -> None:
        """A claimed row left the claim: it is in flight now (its message in hand), or was not sent."""
        with self._lock:
            self._held.remove(delivery_id)
            if message is not None:
                self._sending.add(delivery_id)

    def _let_go(self, delivery_ids: list[int]) -> None:
        """Stop renewing claimed rows and hand them back. Should the hand-back fail too (the database
        is away), their leases run out and any worker takes them back; a row this worker had already
        marked in flight is not claimed any more, and comes back in doubt the same way."""
        with self._lock:
            ours = [i for i in delivery_ids if i in self._held]
            for delivery_id in ours:
                self._held.remove(delivery_id)
        if ours:
            with self.errors.guard(f"delivery release {self.sender.channel}"):
                self.outbox.release(ours, self.name, self.clock.now())

    def _outcome(
        self,
        item: Claimed,
        message: OutgoingMessage,
        paces: list[Pace],
        attempt: Callable[[], tuple[str | None, str | None]] | None = None,
    ) -> None:
        """Send one message in flight (or take `attempt`'s word for it: a call for many rows) and
        record what came of it."""
        delivery_id = message.delivery_id
        started, took = self.clock.now(), 0.0
        outcome = events.ERROR
        try:
            try:  # a row of a call for many: the call's outcome (its time is counted for none)
                ref, note = self._send(message) if attempt is None else attempt()
            finally:  # the platform's part only, not the recording below
                took = max(0.0, (self.clock.now() - started).total_seconds())
        except NotSent as exc:
            outcome = events.NOT_SENT
            self.outbox.skipped(delivery_id, self.clock.now(), str(exc))
            log.info("delivery %s in doubt had not gone out: skipped (%s)", delivery_id, exc)
        except RetryLater as exc:
            outcome = events.THROTTLED
            until = self.clock.now() + timedelta(seconds=max(exc.seconds, 0.0))
            with self.db.transaction() as s:
                pacing.push_back(s, paces, until)
            self.outbox.throttled(
                delivery_id, self.clock.now(), until, f"throttled: {exc}", in_doubt=exc.in_doubt
            )
        except ChannelUnavailable as exc:  # nothing went out, and nothing else would now
            outcome = events.UNAVAILABLE
            self.outages.unavailable(
                self.sender.channel, delivery_id, exc, self.clock.now(), probe=item.probe
            )
        except TransientError as exc:
            outcome = events.TRANSIENT
            state = self.outbox.transient(delivery_id, self.clock.now(), str(exc), in_doubt=exc.in_doubt)
            log.warning("delivery %s: %s (%s)", delivery_id, exc, state, extra=self._fields(delivery_id))
        except PermanentError as exc:
            outcome = events.FAILED
            self.outbox.failed(delivery_id, self.clock.now(), str(exc))
            log.error("delivery %s failed: %s", delivery_id, exc, extra=self._fields(delivery_id))
            self._got_through(item)  # the platform judged this message: the channel itself works
        except Exception as exc:  # the sender's own bug: in doubt, as it may have sent
            self.errors.unexpected(f"sender {self.sender.channel}", exc, delivery=delivery_id)
            self.outbox.transient(delivery_id, self.clock.now(), describe(exc), in_doubt=True)
        else:
            outcome = events.SENT
            self._sent(item, SentMark(delivery_id, self.clock.now(), ref, note))
        finally:
            self.report.attempted(self.sender.channel, outcome, took)

    def _fields(self, delivery_id: int) -> dict[str, object]:
        """The fields of a log line about one delivery (LOG_FORMAT=json)."""
        return {"delivery": delivery_id, "channel": self.sender.channel}

    def _sent(self, item: Claimed, mark: SentMark) -> None:
        """A row sent: recorded with the worker's next transaction; a probe's at once, as its answer
        ends what holds the channel."""
        if item.probe:
            self.outbox.sent(mark.delivery_id, mark.at, mark.ref, note=mark.note)
            self._got_through(item)
            return
        with self._lock:
            self._unrecorded[mark.delivery_id] = mark

    def _got_through(self, item: Claimed) -> None:
        """A probe answered about itself: what held its channel (or target) is over."""
        if item.probe:
            self.outages.got_through(self.sender.channel, item.target, self.clock.now())

    def _wait_until(self, slot: datetime) -> bool:
        """Sleep until `slot`, renewing the claim on the rest of the batch as the lease runs down;
        False when the worker is stopping first (a slot after a long Retry-After must not hold up a
        shutdown)."""
        while True:
            self._keep_claim()
            left = (slot - self.clock.now()).total_seconds()
            if left <= 0:
                return True
            if self.clock.wait(self.stopping, min(left, self._until_renewal())):
                return False

    def _until_renewal(self) -> float:
        """Seconds until the claim on the held rows is due for renewal (a third of the lease)."""
        every = self.outbox.lease * RENEW_AFTER
        with self._lock:
            due = (self._renewed_at or self.clock.now()) + every
        return max((due - self.clock.now()).total_seconds(), 0.001)

    def _keep_leases(self) -> None:
        """Every third of a lease (in real time): renew the rows being sent and those claimed, so a
        platform that answers slowly never lets another worker take a row back and send it again."""
        every = self.outbox.lease.total_seconds() * RENEW_AFTER
        while not self.stopping.wait(every):
            with self.errors.guard(f"delivery leases {self.sender.channel}"):
                with self._lock:
                    sending, held = list(self._sending), list(self._held)
                    now = self.clock.now()
                    self._renewed_at = now
                self.outbox.renew(held, self.name, now)
                self.outbox.renew_sending(sending, self.name, now)

    def _keep_claim(self) -> None:
        with self._lock:
            now = self.clock.now()
            if self._renewed_at is not None and now - self._renewed_at < self.outbox.lease * RENEW_AFTER:
                return
            self.outbox.renew(list(self._held), self.name, now)
            self._renewed_at = now

    def _send(self, message: OutgoingMessage) -> tuple[str | None, str | None]:
        """Send, a message in doubt only when the platform says it did not go out (and it is still to
        be sent); the reference, and a note when it was sent again because the platform could not
        say (never silently: a second copy may reach the recipient)."""
        if message.in_doubt:
            try:
                found = self.sender.find_sent(message)
            except Unverifiable as exc:
                if message.skip_unless_sent is not None:
                    raise NotSent(
                        f"{message.skip_unless_sent} (whether it went out: unknown, {exc})"
                    ) from exc
                note = f"sent again: whether the first attempt went out could not be checked ({exc})"
                log.warning("delivery %s: %s", message.delivery_id, note)
                return self.sender.send(message), note
            if found is not None:
                log.info("delivery %s went out before a crash (%s): not resent", message.delivery_id, found)
                return found, None
            if message.skip_unless_sent is not None:
                raise NotSent(message.skip_unless_sent)
        return self.sender.send(message), None


def _replay(failure: Exception | None) -> Callable[[], tuple[str | None, str | None]]:
    """A bulk call's outcome for one of its rows: sent (no reference), or the call's error."""

    def outcome() -> tuple[str | None, str | None]:
        if failure is not None:
            raise failure
        return None, None

    return outcome
