"""Change detection on the tag columns: last-write-wins, deadband, quality change.

Pure column logic, no scheduling: the database calls these and marks what
changed for the next fan-out.
"""

from __future__ import annotations

import math

import numpy as np

from .columns import KIND_STR, TagColumns
from .values import Scalar


def apply_numeric(cols: TagColumns, ids: np.ndarray, values: np.ndarray, codes: np.ndarray,
                  src: np.ndarray, now: int, force: np.ndarray | None = None,
                  details: list[str] | None = None) -> np.ndarray:
    """Apply numeric samples; returns the ids of the tags that changed.

    A tag changes when its value moved by more than its deadband from the
    last published value, its quality code differs, it had no value, or
    ``force`` says so (a new quality detail). Of duplicate ids the last sample
    wins. ``details`` (aligned with ``ids``) replace the changed tags' quality
    details; without it they are cleared.
    """
    keep = _last_wins(cols, ids)
    if keep is not None:
        ids, values = ids[keep], values[keep]
        codes, src = codes[keep], src[keep]
        if force is not None:
            force = force[keep]
        if details is not None:
            details = [d for d, k in zip(details, keep.tolist()) if k]
    old = cols.value.take(ids)
    with np.errstate(invalid="ignore"):
        changed = np.abs(values - old) > cols.deadband.take(ids)
    changed |= codes != cols.quality.take(ids)
    # A tag without a value holds NaN, so the NaN test below also catches
    # "first value"; only NaN arriving at a valueless tag needs the has column.
    new_nan, old_nan = np.isnan(values), np.isnan(old)
    changed |= new_nan != old_nan
    both = new_nan & old_nan
    if both.any():
        changed |= both & ~cols.has.take(ids)
    if force is not None:
        changed |= force
    cols.last_update_ns[ids] = now
    cid = ids[changed]
    if len(cid):
        cols.value[cid] = values[changed]
        cols.has[cid] = True
        cols.quality[cid] = codes[changed]
        cols.source_ns[cid] = src[changed]
        cols.server_ns[cid] = now
        if details is None:
            cols.clear_details(cid)
        else:
            cols.set_details(cid.tolist(), [d for d, c in zip(details, changed.tolist()) if c])
    return cid


def _last_wins(cols: TagColumns, ids: np.ndarray) -> np.ndarray | None:
    """Mask keeping the last sample of every id, or None when no id repeats.

    Records each id's last position in a scratch column: ``np.maximum.at`` is
    guaranteed to see every duplicate, whereas plain fancy assignment leaves
    the winner of repeated indices unspecified.
    """
    order = cols.order(len(ids))
    pos = cols.scratch
    pos[ids] = -1
    np.maximum.at(pos, ids, order)
    keep = pos.take(ids) == order
    return None if keep.all() else keep


def apply_object(cols: TagColumns, i: int, v: Scalar, code: int, detail: str, src: int, now: int) -> bool:
    """Apply one string value, or None to any tag; True when it changed (any difference)."""
    cols.last_update_ns[i] = now
    is_str = cols.kind[i] == KIND_STR
    if is_str:
        same_value = cols.obj[i] == v and (v is not None or not cols.has[i])
    else:
        same_value = v is None and not cols.has[i]
    if same_value and cols.quality[i] == code and cols.details.get(i, "") == detail:
        return False
    if is_str:
        cols.obj[i] = v
    cols.value[i] = math.nan
    cols.has[i] = v is not None
    cols.quality[i] = code
    cols.source_ns[i] = src
    cols.server_ns[i] = now
    cols.set_details([i], [detail])
    return True


class NumericBatch:
    """Numeric TagValues of one ``update`` call, queued to be applied as one vectorized batch."""

    def __init__(self) -> None:
        self.members: set[int] = set()
        self._cols: tuple[list, ...] = ([], [], [], [], [], [])

    def add(self, i: int, value: float, code: int, src: int, force: bool, detail: str) -> None:
        """Queue one sample."""
        self.members.add(i)
        for col, item in zip(self._cols, (i, value, code, src, force, detail)):
            col.append(item)

    def take(self) -> tuple:
        """The queued samples as ``_apply`` arguments (ids, values, codes, src, force, details); empties the queue."""
        ids, values, codes, src, force, details = self._cols
        out = (np.array(ids, np.intp), np.array(values, np.float64), np.array(codes, np.uint32),
               np.array(src, np.int64), np.array(force, bool), details)
        self.members = set()
        self._cols = ([], [], [], [], [], [])
        return out
