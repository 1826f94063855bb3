"""Change detection on the tag columns: last-write-wins, deadband, quality change.

Pure column logic, no scheduling: the database calls these and marks what
changed for the next fan-out.
"""

from __future__ import annotations

import math

import numpy as np

from .columns import KIND_STR, TagColumns
from .values import Scalar


def apply_numeric(cols: TagColumns, ids: np.ndarray, values: np.ndarray, codes: np.ndarray | int,
                  src: np.ndarray | int, now: int, force: np.ndarray | None = None,
                  details: list[str] | None = None, unique: bool = False) -> np.ndarray:
    """Apply numeric samples; returns the ids of the tags that changed.

    A tag changes when its value moved by more than its deadband from the
    last published value, its quality code differs, it had no value, or
    ``force`` says so (a new quality detail). Of duplicate ids the last sample
    wins (``unique`` says the caller knows there are none). ``codes`` and
    ``src`` are arrays aligned with ``ids`` or one value for the whole batch.
    ``details`` (aligned with ``ids``) replace the changed tags' quality
    details; without it they are cleared.
    """
    keep = None if unique else _last_wins(cols, ids)
    if keep is not None:
        ids, values = ids[keep], values[keep]
        codes = codes[keep] if isinstance(codes, np.ndarray) else codes
        src = src[keep] if isinstance(src, np.ndarray) else src
        if force is not None:
            force = force[keep]
        if details is not None:
            details = [d for d, k in zip(details, keep.tolist()) if k]
    old = cols.value.take(ids)
    # One pass over the batch finds the candidates: "not within the deadband" is also true
    # when either side is NaN (no value yet, or a NaN sample) or for inf against inf; those
    # few are settled one by one below, so a steady batch costs a handful of array operations.
    with np.errstate(invalid="ignore"):
        moved = ~(np.abs(values - old) <= cols.deadband.take(ids))
    moved |= codes != cols.quality.take(ids)
    if force is not None:
        moved |= force
    cols.last_update_ns[ids] = now
    idx = np.flatnonzero(moved)
    if not len(idx):
        return ids[idx]
    cid = ids[idx]
    new, prev = values[idx], old[idx]
    with np.errstate(invalid="ignore"):
        # equal values (inf == inf) or NaN on both sides of a tag that has a value: not a change
        same = (new == prev) | (np.isnan(new) & np.isnan(prev) & cols.has.take(cid))
    if same.any():
        code_of = codes[idx] if isinstance(codes, np.ndarray) else codes
        same &= code_of == cols.quality.take(cid)
        if force is not None:
            same &= ~force[idx]
        if same.any():
            idx, cid, new = idx[~same], cid[~same], new[~same]
            if not len(idx):
                return cid
    cols.value[cid] = new
    cols.has[cid] = True
    cols.quality[cid] = codes[idx] if isinstance(codes, np.ndarray) else codes
    cols.source_ns[cid] = src[idx] if isinstance(src, np.ndarray) else src
    cols.server_ns[cid] = now
    if details is None:
        cols.clear_details(cid)
    else:
        cols.set_details(cid.tolist(), [details[i] for i in idx.tolist()])
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
