"""Vectorized evaluation of analog limit rules (HH/H/L/LL with deadband).

All limit rules of the site live in a few numpy columns. A batch of changed
values (tag indexes and values) is evaluated in one pass: the rules of the
changed tags are gathered through a CSR index (tag -> rules), the hysteresis
condition is computed for all of them at once, and only rules whose raw
condition flipped come back to Python. A high limit is stored as
``sign=+1`` and a low limit as ``sign=-1`` so both are the same comparison:
``sign*value > sign*limit`` to enter, ``sign*value > sign*limit - deadband`` to stay.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class LimitTable:
    """Every limit rule as columns; :meth:`evaluate` returns the rules whose condition changed."""

    def __init__(self, n_tags: int, tag_idx: Sequence[int], limits: Sequence[float],
                 signs: Sequence[int], deadbands: Sequence[float]) -> None:
        self.n_tags = int(n_tags)
        self.tag_idx = np.asarray(tag_idx, dtype=np.int64)
        self.signs = np.asarray(signs, dtype=np.float64)
        self.s_limit = self.signs * np.asarray(limits, dtype=np.float64)
        self.s_keep = self.s_limit - np.asarray(deadbands, dtype=np.float64)
        self.cond = np.zeros(len(self.tag_idx), dtype=bool)
        # CSR: rules ordered by tag; starts/counts per tag.
        self._order = np.argsort(self.tag_idx, kind="stable")
        self._counts = np.bincount(self.tag_idx, minlength=self.n_tags).astype(np.int64)
        self._scratch = np.full(self.n_tags, np.nan)
        self._starts = np.zeros(self.n_tags + 1, dtype=np.int64)
        np.cumsum(self._counts, out=self._starts[1:])

    def __len__(self) -> int:
        return len(self.tag_idx)

    def rules_of(self, tags: np.ndarray) -> np.ndarray:
        """Rule indexes of the given (unique) tag indexes."""
        tags = np.asarray(tags, dtype=np.int64)
        counts = self._counts[tags]
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        starts = self._starts[tags]
        # Concatenated ranges [start, start+count) without a Python loop.
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return self._order[offsets + np.arange(total)]

    def evaluate(self, tags: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply new values of (unique, good-quality) tags; (rule indexes that flipped, new condition)."""
        if len(tags) == 0 or len(self.tag_idx) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
        # Only the rules of ``tags`` read the scratch column, so it needs no reset.
        dense = self._scratch
        dense[tags] = values
        rules = self.rules_of(tags)
        sv = self.signs[rules] * dense[self.tag_idx[rules]]
        old = self.cond[rules]
        # NaN compares False: a NaN value neither raises nor holds an alarm.
        new = np.where(old, sv > self.s_keep[rules], sv > self.s_limit[rules])
        flipped = new != old
        changed = rules[flipped]
        self.cond[changed] = new[flipped]
        return changed, new[flipped]

    def set_condition(self, rule: int, active: bool) -> None:
        """Seed the stored condition (after a restart, so hysteresis continues)."""
        self.cond[rule] = active


def evaluate_loop(tag_idx, s_limit, s_keep, signs, cond, values_by_tag: dict) -> list[tuple[int, bool]]:
    """The same evaluation rule by rule in plain Python (the benchmark's baseline)."""
    out = []
    for r in range(len(tag_idx)):
        v = values_by_tag.get(tag_idx[r])
        if v is None:
            continue
        sv = signs[r] * v
        new = sv > s_keep[r] if cond[r] else sv > s_limit[r]
        if new != cond[r]:
            cond[r] = new
            out.append((r, new))
    return out
