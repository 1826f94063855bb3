"""The alarm journal: every transition and the current state of every alarm, durably.

:class:`JournalStore` is the SQL side (any SQLAlchemy 2 engine; the same code on
SQLite and PostgreSQL). :class:`Journal` is what the engine talks to: it is the
engine's state store and a transition listener, and it writes everything that
happened in one reactor turn in one transaction at the end of that turn, so an
alarm flood costs one commit, not hundreds.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Callable, Iterable

from sqlalchemy import and_, delete, func, insert, select
from twisted.internet import defer

from tagdb.values import datetime_to_ns, ns_to_datetime

from .errors import JournalError
from .events import AlarmTransition
from .tables import journal as t_journal
from .tables import state as t_state

log = logging.getLogger(__name__)


def _json(v: Any) -> str | None:
    return None if v is None else json.dumps(v, default=str)


def _unjson(v: str | None) -> Any:
    return None if v is None else json.loads(v)


class JournalStore:
    """SQL persistence of transitions and current alarm states."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def write(self, transitions: Iterable[AlarmTransition], states: Iterable[dict], now_ns: int) -> None:
        """Append transitions and upsert states in one transaction."""
        rows = [_row(tr) for tr in transitions]
        states = list(states)
        try:
            with self.engine.begin() as conn:
                if rows:
                    conn.execute(insert(t_journal), rows)
                if states:
                    ids = [s["alarm_id"] for s in states]
                    conn.execute(delete(t_state).where(t_state.c.alarm_id.in_(ids)))
                    conn.execute(insert(t_state), [{"alarm_id": s["alarm_id"], "data": json.dumps(s),
                                                    "updated_ns": now_ns} for s in states])
        except Exception as exc:
            raise JournalError(f"cannot write the alarm journal: {exc}") from exc

    def load_states(self) -> list[dict]:
        """Every saved state row."""
        with self.engine.connect() as conn:
            return [json.loads(r.data) for r in conn.execute(select(t_state.c.data))]

    def query(self, alarm_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
              area: str | None = None, priority: str | None = None, kind: str | None = None,
              user: str | None = None, limit: int = 500, offset: int = 0) -> list[dict]:
        """Journal rows, newest first, filtered."""
        conds = []
        c = t_journal.c
        if alarm_id is not None:
            conds.append(c.alarm_id == alarm_id)
        if since is not None:
            conds.append(c.ts_ns >= datetime_to_ns(since))
        if until is not None:
            conds.append(c.ts_ns < datetime_to_ns(until))
        for col, val in ((c.area, area), (c.priority, priority), (c.kind, kind), (c.user_name, user)):
            if val is not None:
                conds.append(col == val)
        stmt = select(t_journal).order_by(c.ts_ns.desc(), c.id.desc()).limit(limit).offset(offset)
        if conds:
            stmt = stmt.where(and_(*conds))
        with self.engine.connect() as conn:
            return [_out(r) for r in conn.execute(stmt).mappings()]

    def activations_since(self, since_ns: int) -> list[tuple[int, str, str, str | None]]:
        """(ts_ns, alarm_id, priority, area) of every annunciated activation since ``since_ns``."""
        c = t_journal.c
        stmt = (select(c.ts_ns, c.alarm_id, c.priority, c.area)
                .where(and_(c.ts_ns >= since_ns, c.kind == "activate", c.state_after == "unack_active"))
                .order_by(c.ts_ns))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(stmt)]

    def count(self) -> int:
        """Number of journal rows."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t_journal)).scalar_one()


def _row(tr: AlarmTransition) -> dict:
    return {"ts_ns": datetime_to_ns(tr.ts), "alarm_id": tr.alarm_id, "kind": tr.kind.value,
            "state_before": tr.state_before.value, "state_after": tr.state_after.value,
            "priority": tr.priority, "rule_type": tr.rule_type, "tag": tr.tag, "area": tr.area,
            "equipment": tr.equipment, "building": tr.building, "value": _json(tr.value),
            "limit_value": _json(tr.limit), "user_name": tr.user, "comment": tr.comment,
            "message": tr.message or ""}


def _out(r) -> dict:
    return {"id": r["id"], "ts": ns_to_datetime(r["ts_ns"]).isoformat(), "alarm_id": r["alarm_id"],
            "kind": r["kind"], "state_before": r["state_before"], "state_after": r["state_after"],
            "priority": r["priority"], "rule_type": r["rule_type"], "tag": r["tag"], "area": r["area"],
            "equipment": r["equipment"], "building": r["building"], "value": _unjson(r["value"]),
            "limit": _unjson(r["limit_value"]), "user": r["user_name"], "comment": r["comment"],
            "message": r["message"]}


class Journal:
    """The engine's state store and journal listener; flushes once per reactor turn.

    ``on_written`` (optional) receives the transitions after they are durable:
    the historian's event writer hangs there, so an annotation never shows an
    alarm the journal lost. ``runner`` (optional) runs the blocking write off
    the reactor thread and returns a Deferred (the service passes a thread-pool
    runner); without it the write happens in the calling thread (tests, tools).
    One write is in flight at a time, so the journal keeps the order of events.
    """

    def __init__(self, store: JournalStore, clock, on_written: Callable[[list[AlarmTransition]], None] | None = None,
                 runner: Callable[[Callable[[], Any]], defer.Deferred] | None = None):
        self.store = store
        self.clock = clock
        self.on_written = on_written
        self.runner = runner
        self._transitions: list[AlarmTransition] = []
        self._states: dict[str, dict] = {}
        self._call = None
        self._outage = False                 # logged once at ERROR, recovery once at INFO
        self._inflight: defer.Deferred | None = None

    def __call__(self, tr: AlarmTransition) -> None:
        """Queue one transition (engine listener)."""
        self._transitions.append(tr)
        self._schedule()

    def save_state(self, row: dict) -> None:
        """Queue one state row (engine state store)."""
        self._states[row["alarm_id"]] = row
        self._schedule()

    def load_states(self) -> list[dict]:
        """Saved states (engine state store)."""
        return self.store.load_states()

    @property
    def pending(self) -> int:
        """Transitions not yet durable."""
        return len(self._transitions)

    def _schedule(self) -> None:
        # While failing, the 5 s retry is pending and new items simply join the queue.
        if self._inflight is None and (self._call is None or not self._call.active()):
            self._call = self.clock.callLater(0, self.flush)

    def _take(self):
        trs, states = self._transitions, self._states
        self._transitions, self._states = [], {}
        now_ns = int(self.clock.seconds() * 1e9)
        return trs, states, (lambda: self.store.write(trs, list(states.values()), now_ns))

    def flush(self) -> int:
        """Start writing what is queued; on failure keep it and retry in 5 s. Returns transitions taken."""
        self._call = None
        if self._inflight is not None or (not self._transitions and not self._states):
            return 0
        trs, states, write = self._take()
        if self.runner is None:
            try:
                write()
            except Exception as exc:
                self._failed(trs, states, exc)
                return 0
            self._written(trs)
            return len(trs)
        d = self._inflight = self.runner(write)
        d.addCallbacks(lambda _: self._written(trs), lambda f: self._failed(trs, states, f.value))
        d.addBoth(self._done)
        return len(trs)

    def _done(self, _result) -> None:
        self._inflight = None
        if self._transitions or self._states:
            self._schedule()

    def _failed(self, trs: list[AlarmTransition], states: dict, exc: BaseException) -> None:
        self._transitions[:0] = trs                 # older transitions stay first
        for key, row in states.items():
            self._states.setdefault(key, row)       # a state queued meanwhile is newer
        if not self._outage:
            log.error("alarm journal unavailable, keeping %d transitions queued: %s", len(self._transitions), exc)
        else:
            log.debug("alarm journal still unavailable: %s", exc)
        self._outage = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = self.clock.callLater(5.0, self._retry)

    def _retry(self) -> None:
        self._call = None
        self.flush()

    def _written(self, trs: list[AlarmTransition]) -> None:
        if self._outage:
            log.info("alarm journal writable again")
        self._outage = False
        if self.on_written is not None and trs:
            try:
                self.on_written(trs)
            except Exception:
                log.exception("alarm journal post-write hook failed")

    def stop(self) -> defer.Deferred:
        """Write everything still queued (at shutdown), after a write in flight; fires when done."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

        def final(_=None) -> None:
            """Write the rest synchronously."""
            if self._transitions or self._states:
                trs, states, write = self._take()
                try:
                    write()
                except Exception as exc:
                    log.error("alarm journal: %d transitions could not be written at shutdown: %s", len(trs), exc)
                    self._transitions[:0] = trs
                    return
                self._written(trs)

        if self._inflight is not None:
            return self._inflight.addBoth(lambda _: final())
        final()
        return defer.succeed(None)
