"""Live values of one browser session: only the tags its current page shows, pushed in batches.

A page is a list of :class:`Block` s, each rendering some tags. The session
subscribes to those tags with a few glob patterns (never one subscription per
tag); the subscription callbacks only record the latest :class:`TagValue` per
path in a dict. A periodic callback of the session (every ``refresh`` seconds,
250-500 ms) calls :meth:`LiveView.tick`, which takes the accumulated dict and
re-renders just the blocks whose tags changed.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any, Callable, Iterable

import panel as pn

from tagdb.values import TagValue

from .i18n import tr
from .quality import Shown, show
from .render import CSS

log = logging.getLogger(__name__)

HEALTH = "_system/devices/{}/connected"
SEVERITY = 0xC0000000      # the severity bits of an OPC UA status code: zero means Good


def health_path(device: str) -> str:
    """The system tag saying whether ``device`` is connected."""
    return HEALTH.format(device)


def patterns_for(paths: Iterable[str]) -> list[str]:
    """Few glob patterns covering ``paths``: ``a/*/c`` for siblings in parallel folders.

    Every path matches the pattern made from itself, so filtering the delivered
    batch by the wanted set is exact.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        parts = p.split("/")
        key = "/".join(parts[:-2] + ["*", parts[-1]]) if len(parts) >= 3 else p
        groups[key].append(p)
    return sorted(key if len(members) > 1 else members[0] for key, members in groups.items())


class Values:
    """What a block's render function reads: current values, specs, display forms and the session's language."""

    def __init__(self, tags: Any, lang: str = "en") -> None:
        self.tags = tags
        self.lang = lang
        self.current: dict[str, TagValue] = {}
        self._specs: dict[str, Any] = {}
        self._health: dict[str, str | None] = {}

    def t(self, key: str, **fields) -> str:
        """The text of ``key`` in the session's language (see :mod:`hmi.i18n`)."""
        return tr(self.lang, key, **fields)

    def spec(self, path: str):
        """The tag's spec (None for unknown paths)."""
        spec = self._specs.get(path)
        if spec is None and path not in self._specs:
            try:
                spec = self.tags.spec(path)
            except KeyError:
                spec = None
            self._specs[path] = spec
        return spec

    def tv(self, path: str) -> TagValue | None:
        """The latest value of ``path`` this session has received."""
        return self.current.get(path)

    def connected(self, path: str) -> bool | None:
        """False when the device of ``path`` reports it is disconnected (Good health value)."""
        hp = self._health.get(path, "")
        if hp == "":
            spec = self.spec(path)
            hp = self._health[path] = health_path(spec.device) if spec is not None and spec.device else None
        if hp is None:
            return None
        h = self.current.get(hp)
        if h is None or h.quality.code & SEVERITY:
            return None
        return bool(h.value)

    def not_good(self, path: str) -> bool:
        """True when ``path`` has a value whose quality is not Good, or its device is disconnected."""
        tv = self.current.get(path)
        if tv is not None and tv.value is not None and tv.quality.code & SEVERITY:
            return True
        return self.connected(path) is False

    def shown(self, path: str, digits: int = 1, labels: dict | None = None, units: str | None = None) -> Shown:
        """The display form of ``path`` (units from the spec unless given)."""
        spec = self.spec(path)
        u = units if units is not None else (spec.units if spec is not None else "")
        return show(self.current.get(path), u, digits, labels, self.connected(path), self.lang)

    def number(self, path: str) -> float | None:
        """The numeric value when it is Good or Uncertain, else None."""
        tv = self.current.get(path)
        if tv is None or tv.value is None or tv.quality.is_bad or isinstance(tv.value, str):
            return None
        return float(tv.value)

    def good(self, path: str):
        """The value when its quality is Good, else None."""
        tv = self.current.get(path)
        return tv.value if tv is not None and tv.quality.is_good else None


class Block:
    """A piece of a page rendered from some tags into an HTML pane."""

    def __init__(self, paths: Iterable[str], render: Callable[[Values], str], **pane_kw) -> None:
        self.paths = list(dict.fromkeys(paths))
        self.render = render
        pane_kw.setdefault("sizing_mode", "stretch_width")
        pane_kw.setdefault("stylesheets", [CSS])   # Panel renders each pane in its own shadow root
        self.pane = pn.pane.HTML("", **pane_kw)
        self.depends: set[str] = set()

    def refresh(self, values: Values, changed: list[TagValue] | None = None) -> None:
        """Re-render (called with the changes of this tick, or None for the first render)."""
        try:
            html = self.render(values)
        except Exception:
            log.exception("HMI block failed to render")
            html = f'<span class="v q-bad">{tr(getattr(values, "lang", "en"), "display_error")}</span>'
        if html != self.pane.object:
            self.pane.object = html


class LiveView:
    """The live-value state of one session (see the module docstring)."""

    def __init__(self, tags: Any, lang: str = "en") -> None:
        self.tags = tags
        self.values = Values(tags, lang)
        self.blocks: list[Block] = []
        self._subs: list[Any] = []
        self._wanted: set[str] = set()
        self._pending: dict[str, TagValue] = {}
        self.ticks = 0
        self.renders = 0
        self.busy_s = 0.0

    def show(self, blocks: Iterable[Block]) -> None:
        """Make ``blocks`` the live part of the page: subscribe to their tags, render them now."""
        self._unsubscribe()
        self.blocks = list(blocks)
        wanted: set[str] = set()
        for block in self.blocks:
            deps = {p for p in block.paths if p in self.tags}
            for p in list(deps):
                spec = self.values.spec(p)
                if spec is not None and spec.device and health_path(spec.device) in self.tags:
                    deps.add(health_path(spec.device))
            block.depends = deps
            wanted |= deps
        self._wanted = wanted
        self._pending.clear()
        self.values.current = dict(self.tags.snapshot(sorted(wanted))) if wanted else {}
        for pattern in patterns_for(wanted):
            self._subs.append(self.tags.subscribe(pattern, self._on_changes))
        for block in self.blocks:
            block.refresh(self.values, None)

    def _on_changes(self, batch: list[TagValue]) -> None:
        wanted, pending = self._wanted, self._pending
        for tv in batch:
            if tv.path in wanted:
                pending[tv.path] = tv

    def tick(self) -> int:
        """Apply the changes accumulated since the last tick; returns how many blocks re-rendered."""
        self.ticks += 1
        if not self._pending:
            return 0
        started = time.perf_counter()
        pending, self._pending = self._pending, {}
        self.values.current.update(pending)
        changed = set(pending)
        n = 0
        for block in self.blocks:
            if block.depends & changed:
                block.refresh(self.values, [pending[p] for p in block.depends & changed])
                n += 1
        self.renders += n
        self.busy_s += time.perf_counter() - started
        return n

    @property
    def subscription_count(self) -> int:
        """Live subscriptions of this session."""
        return len(self._subs)

    def _unsubscribe(self) -> None:
        for sub in self._subs:
            try:
                sub.cancel()
            except Exception:
                log.debug("cancelling a subscription failed", exc_info=True)
        self._subs = []

    def close(self) -> None:
        """Drop every subscription (the session ended)."""
        self._unsubscribe()
        self.blocks = []
        self._wanted = set()
        self._pending.clear()
