"""Flood grouping and rate limiting between the notifier and the outbox.

Messages for one (pipeline, channel, recipient) are collected for the rest of
the reactor turn. If more arrive than ``threshold`` within ``window`` seconds,
the surplus becomes one summary message sent when the window ends, so an alarm
flood of 200 alarms reaches a technician as one message, not 200. A recipient
over ``max_per_hour`` gets everything later in one summary: nothing is dropped.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .message import Message

log = logging.getLogger(__name__)

SUMMARY_LINES = 20


@dataclass
class _Lane:
    pending: list[Message] = field(default_factory=list)
    window_start: float = -1e18
    sent_in_window: int = 0
    summarized: bool = False
    hour: deque = field(default_factory=deque)
    call: Any = None


class Dispatcher:
    """Groups and rate-limits messages, then hands them to ``send`` (usually ``Outbox.enqueue``)."""

    def __init__(self, send: Callable[[Message], Any], clock, window: float = 30.0, threshold: int = 5,
                 max_per_hour: int | None = None) -> None:
        self.send = send
        self.clock = clock
        self.window = window
        self.threshold = threshold
        self.max_per_hour = max_per_hour
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self.summaries = 0
        self._unsent: list[Message] = []     # the outbox itself could not store them (database down)
        self._retry_call = None

    def submit(self, message: Message) -> None:
        """Queue one message; it is sent at the end of this turn or grouped into a summary."""
        lane = self._lanes.setdefault((message.channel, message.recipient), _Lane())
        lane.pending.append(message)
        if lane.call is None or not lane.call.active():
            lane.call = self.clock.callLater(0, self._flush, lane)

    def _flush(self, lane: _Lane) -> None:
        lane.call = None
        if not lane.pending:
            return
        now = self.clock.seconds()
        if now - lane.window_start >= self.window:
            lane.window_start, lane.sent_in_window, lane.summarized = now, 0, False
        while lane.hour and now - lane.hour[0] >= 3600.0:
            lane.hour.popleft()
        room_hour = float("inf") if self.max_per_hour is None else self.max_per_hour - len(lane.hour)
        if room_hour <= 0:
            lane.call = self.clock.callLater(3600.0 - (now - lane.hour[0]), self._flush, lane)
            return
        room = self.threshold - lane.sent_in_window
        if not lane.summarized and len(lane.pending) <= min(room, room_hour):
            for msg in lane.pending:
                self._out(lane, msg, now)
            lane.pending = []
            return
        if lane.summarized or lane.sent_in_window >= self.threshold:
            # Already flooded in this window: wait for its end and summarize what gathered.
            end = lane.window_start + self.window
            if now < end:
                lane.call = self.clock.callLater(end - now, self._flush, lane)
                return
        msgs, lane.pending = lane.pending, []
        self._out(lane, msgs[0] if len(msgs) == 1 else summarize(msgs), now)
        if len(msgs) > 1:
            lane.summarized = True
            self.summaries += 1

    def _out(self, lane: _Lane, msg: Message, now: float) -> None:
        lane.sent_in_window += 1
        lane.hour.append(now)
        self._hand_over(msg)

    def _hand_over(self, msg: Message) -> None:
        if self._unsent:
            self._unsent.append(msg)   # keep the order behind what is already waiting
            return
        try:
            self.send(msg)
        except Exception as exc:
            log.error("cannot store notification for %s in the outbox, keeping it in memory: %s",
                      msg.recipient, exc)
            self._unsent.append(msg)
            self._retry_call = self.clock.callLater(5.0, self._retry)

    def _retry(self) -> None:
        self._retry_call = None
        while self._unsent:
            try:
                self.send(self._unsent[0])
            except Exception as exc:
                log.debug("outbox still unavailable: %s", exc)
                self._retry_call = self.clock.callLater(5.0, self._retry)
                return
            self._unsent.pop(0)
        log.info("notifications stored in the outbox again")

    def cancel(self) -> None:
        """Cancel timers (pending messages are flushed first)."""
        for lane in self._lanes.values():
            if lane.call is not None and lane.call.active():
                lane.call.cancel()
            lane.call = None
            if lane.pending:
                msgs, lane.pending = lane.pending, []
                self._hand_over(msgs[0] if len(msgs) == 1 else summarize(msgs))
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()
        if self._unsent:
            log.error("%d notifications could not be stored in the outbox and are lost at shutdown",
                      len(self._unsent))


def summarize(messages: list[Message]) -> Message:
    """One message standing for several to the same recipient."""
    first = messages[0]
    lines = [m.subject for m in messages[:SUMMARY_LINES]]
    if len(messages) > SUMMARY_LINES:
        lines.append(f"... and {len(messages) - SUMMARY_LINES} more")
    return Message(channel=first.channel, recipient=first.recipient,
                   subject=f"[spms] {len(messages)} alarm notifications",
                   body=f"{len(messages)} alarm notifications were grouped:\n\n" + "\n".join(lines),
                   payload={"grouped": len(messages), "sources": [m.source for m in messages]},
                   source="summary")
