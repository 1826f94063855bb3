"""The durable outbox: every message is stored before it is sent, every attempt recorded.

``enqueue`` writes the message (status ``pending``) and triggers a delivery
pass; a pass sends every due message through its channel, records the attempt
and its result, and either marks the message ``sent`` or reschedules it with
exponential backoff (``retry_initial`` doubling up to ``retry_max``). After
``max_attempts`` a message becomes ``dead`` and stays visible for operators.
Pending messages survive a restart: the next pass picks them up. The business
layer reuses this class with its own channels for resident and staff notices.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import and_, func, insert, select, update
from twisted.internet import defer

from ..tables import attempts as t_attempts
from ..tables import outbox as t_outbox
from .channels import Channel
from .message import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One stored message and its delivery status."""

    id: int
    message: Message
    status: str              # pending | sent | dead
    attempts: int
    last_error: str | None
    created_ns: int
    next_attempt_ns: int
    sent_ns: int | None


class Outbox:
    """Durable, retried delivery of :class:`Message` objects over named channels."""

    def __init__(self, engine, clock, channels: Mapping[str, Channel], retry_initial: float = 10.0,
                 retry_max: float = 1800.0, max_attempts: int = 50, poll: float = 5.0) -> None:
        self.engine = engine
        self.clock = clock
        self.channels = dict(channels)
        self.retry_initial, self.retry_max, self.max_attempts = retry_initial, retry_max, max_attempts
        self.poll = poll
        self._in_flight: set[int] = set()
        self._down: set[str] = set()
        self._call = None
        self._running = False
        self._store_down = False

    # ------------------------------------------------------------------ public API

    def enqueue(self, message: Message) -> int:
        """Store a message for delivery and start a delivery pass; returns its id."""
        if message.channel not in self.channels:
            raise KeyError(f"unknown notification channel {message.channel!r}")
        now = self._now_ns()
        with self.engine.begin() as conn:
            mid = conn.execute(insert(t_outbox).values(
                created_ns=now, channel=message.channel, recipient=message.recipient,
                subject=message.subject, body=message.body, payload=json.dumps(dict(message.payload), default=str),
                source=message.source, status="pending", attempts=0, next_attempt_ns=now)).inserted_primary_key[0]
        self._kick()
        return int(mid)

    def start(self) -> None:
        """Deliver what is pending (also from before a restart) and poll every ``poll`` seconds."""
        self._running = True
        self._kick()

    def stop(self) -> None:
        """Stop polling (messages stay stored)."""
        self._running = False
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def deliver_due(self) -> defer.Deferred:
        """Run one delivery pass now; fires when every attempt of the pass has finished."""
        return defer.ensureDeferred(self._deliver_due())

    def entries(self, status: str | None = None, source: str | None = None, limit: int = 200) -> list[OutboxEntry]:
        """Stored messages, newest first."""
        stmt = select(t_outbox).order_by(t_outbox.c.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(t_outbox.c.status == status)
        if source is not None:
            stmt = stmt.where(t_outbox.c.source == source)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(stmt).mappings()]

    def attempts(self, message_id: int) -> list[dict]:
        """Every attempt of one message: ts_ns, ok, error."""
        stmt = select(t_attempts).where(t_attempts.c.message_id == message_id).order_by(t_attempts.c.id)
        with self.engine.connect() as conn:
            return [{"ts_ns": r["ts_ns"], "ok": bool(r["ok"]), "error": r["error"]}
                    for r in conn.execute(stmt).mappings()]

    def counts(self) -> dict[str, int]:
        """Number of messages per status."""
        stmt = select(t_outbox.c.status, func.count()).group_by(t_outbox.c.status)
        with self.engine.connect() as conn:
            return {s: n for s, n in conn.execute(stmt)}

    # ------------------------------------------------------------------ delivery

    def _now_ns(self) -> int:
        return int(self.clock.seconds() * 1e9)

    def _kick(self) -> None:
        if self._call is not None and self._call.active():
            self._call.reset(0)
        else:
            self._call = self.clock.callLater(0, self._tick)

    def _tick(self) -> None:
        self._call = None
        d = self.deliver_due()
        d.addCallbacks(self._pass_ok, self._pass_failed)
        d.addBoth(lambda _: self._schedule_next())

    def _pass_ok(self, _result) -> None:
        if self._store_down:
            log.info("notification outbox store available again")
            self._store_down = False

    def _pass_failed(self, failure) -> None:
        if not self._store_down:
            log.error("notification outbox store unavailable, retrying: %s", failure.getErrorMessage())
        else:
            log.debug("notification outbox store still unavailable: %s", failure.getErrorMessage())
        self._store_down = True

    def _schedule_next(self) -> None:
        if not self._running or (self._call is not None and self._call.active()):
            return
        now = self._now_ns()
        try:
            with self.engine.connect() as conn:
                nxt = conn.execute(select(func.min(t_outbox.c.next_attempt_ns))
                                   .where(t_outbox.c.status == "pending")).scalar()
        except Exception:
            nxt = None   # the store is down: poll again, the failed pass has logged it
        delay = self.poll if nxt is None else min(self.poll, max(0.0, (nxt - now) / 1e9))
        self._call = self.clock.callLater(max(delay, 0.001), self._tick)

    async def _deliver_due(self) -> None:
        now = self._now_ns()
        stmt = (select(t_outbox).where(and_(t_outbox.c.status == "pending", t_outbox.c.next_attempt_ns <= now))
                .order_by(t_outbox.c.id).limit(500))
        with self.engine.connect() as conn:
            due = [_entry(r) for r in conn.execute(stmt).mappings()]
        due = [e for e in due if e.id not in self._in_flight]
        for e in due:
            self._in_flight.add(e.id)
        results = [defer.ensureDeferred(self._attempt(e)) for e in due]
        if results:
            await defer.DeferredList(results, consumeErrors=True)

    async def _attempt(self, entry: OutboxEntry) -> None:
        channel = self.channels.get(entry.message.channel)
        error: str | None = None
        try:
            if channel is None:
                raise LookupError(f"channel {entry.message.channel!r} is not configured any more")
            await channel.send(entry.message)
        except Exception as exc:
            error = str(exc) or type(exc).__name__
        finally:
            self._in_flight.discard(entry.id)
        self._record(entry, error)

    def _record(self, entry: OutboxEntry, error: str | None) -> None:
        now = self._now_ns()
        n = entry.attempts + 1
        name = entry.message.channel
        values: dict[str, Any] = {"attempts": n, "last_error": error}
        if error is None:
            values.update(status="sent", sent_ns=now)
            if name in self._down:
                self._down.discard(name)
                log.info("notification channel %s delivers again", name)
        else:
            if name not in self._down:
                self._down.add(name)
                log.error("notification channel %s failed (message %d kept for retry): %s", name, entry.id, error)
            else:
                log.debug("notification channel %s still failing: %s", name, error)
            if n >= self.max_attempts:
                values["status"] = "dead"
            else:
                backoff = min(self.retry_max, self.retry_initial * 2 ** (n - 1))
                values["next_attempt_ns"] = now + int(backoff * 1e9)
        with self.engine.begin() as conn:
            conn.execute(update(t_outbox).where(t_outbox.c.id == entry.id).values(**values))
            conn.execute(insert(t_attempts).values(message_id=entry.id, ts_ns=now, ok=error is None, error=error))


def _entry(r) -> OutboxEntry:
    msg = Message(channel=r["channel"], recipient=r["recipient"], subject=r["subject"], body=r["body"],
                  payload=json.loads(r["payload"]) if r["payload"] else {}, source=r["source"] or "")
    return OutboxEntry(id=int(r["id"]), message=msg, status=r["status"], attempts=int(r["attempts"]),
                       last_error=r["last_error"], created_ns=int(r["created_ns"]),
                       next_attempt_ns=int(r["next_attempt_ns"]),
                       sent_ns=None if r["sent_ns"] is None else int(r["sent_ns"]))
