"""Subscriptions by glob or prefix, fanned out once per reactor turn.

Each subscription holds a precomputed numpy membership mask over tag ids, so
finding a subscriber's share of a turn's changes is one boolean index. A
per-tag count of watching subscriptions lets the fan-out skip building
TagValues for tags nobody watches.
"""

from __future__ import annotations

import itertools
import logging
from typing import Callable, Sequence

import numpy as np

from .contracts import ChangeCallback
from .patterns import compile_pattern
from .values import TagValue

log = logging.getLogger(__name__)


class TagSubscription:
    """Handle of one subscription; ``cancel()`` stops delivery (idempotent)."""

    def __init__(self, registry: "SubscriptionRegistry", key: int, pattern: str,
                 callback: ChangeCallback, mask: np.ndarray) -> None:
        self._registry = registry
        self.key = key
        self.pattern = pattern
        self.callback = callback
        self.mask = mask
        self.active = True
        self.failures = 0   # consecutive failed deliveries

    @property
    def count(self) -> int:
        """Number of tags this subscription watches."""
        return int(self.mask.sum())

    def cancel(self) -> None:
        """Stop receiving changes; pending deliveries for it are dropped."""
        if self.active:
            self.active = False
            self._registry.remove(self)

    def deliver(self, batch: Sequence[TagValue]) -> None:
        """Call the subscriber; a raising callback is logged and affects no one else.

        A subscriber that keeps failing is logged once at ERROR (with the
        traceback), its repeats at DEBUG, and its recovery once at INFO.
        """
        try:
            self.callback(batch)
        except Exception:
            self.failures += 1
            if self.failures == 1:
                log.exception("tag subscriber %r (pattern %r) failed on a batch of %d changes",
                              self.callback, self.pattern, len(batch))
            else:
                log.debug("tag subscriber %r failed again (%d in a row)", self.callback, self.failures,
                          exc_info=True)
            return
        if self.failures:
            log.info("tag subscriber %r (pattern %r) works again after %d failed batches",
                     self.callback, self.pattern, self.failures)
            self.failures = 0

    def __repr__(self) -> str:
        return f"<TagSubscription {self.pattern!r} tags={self.count} active={self.active}>"


class SubscriptionRegistry:
    """All live subscriptions with their masks, kept as long as the tag table."""

    def __init__(self) -> None:
        self._subs: dict[int, TagSubscription] = {}
        self._keys = itertools.count(1)
        self.watch_count = np.zeros(0, np.int32)

    def __len__(self) -> int:
        return len(self._subs)

    def add(self, pattern: str, callback: ChangeCallback, members: np.ndarray) -> TagSubscription:
        """Subscribe ``callback`` to the tags ``members`` (the ids ``pattern`` matches now).

        Tags added later are tested against ``pattern`` by :meth:`extend`.
        """
        if not callable(callback):
            raise TypeError(f"subscription callback {callback!r} is not callable")
        compile_pattern(pattern)   # malformed patterns fail here, not at the first new tag
        mask = np.zeros(len(self.watch_count), bool)
        mask[members] = True
        sub = TagSubscription(self, next(self._keys), pattern, callback, mask)
        self._subs[sub.key] = sub
        self.watch_count[mask] += 1
        return sub

    def remove(self, sub: TagSubscription) -> None:
        """Forget ``sub`` (called by its ``cancel``)."""
        if self._subs.pop(sub.key, None) is not None:
            self.watch_count[sub.mask] -= 1

    def extend(self, capacity: int, start: int, new_paths: list[str]) -> None:
        """Grow every mask to ``capacity`` and evaluate patterns on tags added at ``start``."""
        if capacity > len(self.watch_count):
            grown = np.zeros(capacity, np.int32)
            grown[: len(self.watch_count)] = self.watch_count
            self.watch_count = grown
        for sub in self._subs.values():
            if capacity > len(sub.mask):
                mask = np.zeros(capacity, bool)
                mask[: len(sub.mask)] = sub.mask
                sub.mask = mask
            hits = _evaluate(compile_pattern(sub.pattern), new_paths)
            sub.mask[start:start + len(new_paths)] = hits
            self.watch_count[start:start + len(new_paths)] += hits

    def fan_out(self, ids: np.ndarray, build: Callable[[np.ndarray], list[TagValue]]) -> int:
        """Deliver the changed tags ``ids`` to their subscribers; returns deliveries made.

        TagValues are built once for the watched tags and shared by every
        subscriber; each subscriber gets one list (in tag order) per call.
        """
        watched = ids[self.watch_count[ids] > 0]
        if not len(watched):
            return 0
        values = build(watched)
        deliveries = 0
        for sub in list(self._subs.values()):
            if not sub.active:
                continue   # cancelled by an earlier subscriber's callback in this turn
            sel = sub.mask[watched]
            if sel.all():
                batch = list(values)   # own list: a subscriber may keep or mutate it
            else:
                hits = np.flatnonzero(sel).tolist()
                if not hits:
                    continue
                batch = [values[k] for k in hits]
            sub.deliver(batch)
            deliveries += 1
        return deliveries


def _evaluate(predicate: Callable[[str], bool], paths: list[str]) -> np.ndarray:
    return np.fromiter((predicate(p) for p in paths), dtype=bool, count=len(paths))
