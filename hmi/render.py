"""HTML of the high-performance (ISA-101) display elements: values, analog bars, states.

Greys for everything normal; colour only where something is abnormal (an
alarm priority colour, or the quality markers). Every value carries
``data-path`` and ``data-q`` attributes so tests and tools can read what the
operator sees.
"""

from __future__ import annotations

from html import escape

from .i18n import optional
from .quality import GOOD, STALE, UNCERTAIN, Shown, label

PRIORITY_COLOURS = {"critical": "#d40000", "high": "#f07800", "medium": "#e6c200", "low": "#5a8fd6"}

CSS = """
body, .bk-root { background: #dcdcdc !important; }
.hmi { font-family: 'DejaVu Sans', Arial, sans-serif; color: #222; }
.hmi-card { background: #e8e8e8; border: 1px solid #b8b8b8; padding: 6px 10px; margin: 3px; }
.hmi-card h4 { margin: 0 0 4px 0; font-size: 14px; color: #333; }
.hmi table { border-collapse: collapse; font-size: 13px; }
.hmi td, .hmi th { padding: 2px 8px; border-bottom: 1px solid #cfcfcf; text-align: left; }
.hmi th { color: #555; font-weight: normal; }
.v { font-family: 'DejaVu Sans Mono', monospace; padding: 0 3px; white-space: nowrap; }
.q-bad { color: #666; text-decoration: line-through; outline: 2px solid #b000b0; }
.q-uncertain { outline: 2px dashed #b000b0; }
.q-stale { color: #777; font-style: italic; outline: 2px dotted #555; }
.q-waiting { color: #888; }
.qb { font-family: Arial, sans-serif; font-size: 10px; font-weight: bold; margin-left: 4px;
      color: #fff; background: #b000b0; padding: 0 3px; text-decoration: none; display: inline-block; }
.q-stale .qb, .q-waiting .qb { background: #555; }
.abn { color: #fff; background: #f07800; }
.bar { position: relative; display: inline-block; width: 140px; height: 12px; background: #c4c4c4;
       vertical-align: middle; margin-right: 6px; }
.bar .norm { position: absolute; top: 0; bottom: 0; background: #ececec; }
.bar .ptr { position: absolute; top: -2px; bottom: -2px; width: 3px; background: #333; }
.bar .ptr.abn { background: #f07800; }
.lamp { display: inline-block; padding: 0 6px; border: 1px solid #999; font-size: 12px; }
.lamp.on { background: #f4f4f4; font-weight: bold; }
.lamp.off { background: #cfcfcf; color: #555; }
.lamp.alarm { background: #f07800; color: #fff; font-weight: bold; }
.prio { display: inline-block; min-width: 14px; padding: 0 4px; color: #fff; font-weight: bold; text-align: center; }
.banner { background: #cfcfcf; border: 1px solid #aaa; padding: 3px 8px; font-size: 13px; }
.banner .none { color: #555; }
.shaft { position: relative; width: 46px; background: #c8c8c8; border: 1px solid #999; display: inline-block; }
.shaft .car { position: absolute; left: 4px; width: 36px; height: 14px; background: #555; color: #fff;
              font-size: 10px; text-align: center; }
.shaft .car.abn { background: #f07800; }
.schem { display: flex; align-items: center; flex-wrap: wrap; gap: 4px; }
.schem .box { border: 1px solid #888; background: #e4e4e4; padding: 4px 8px; min-width: 90px; font-size: 12px; }
.schem .arrow { color: #777; font-size: 18px; }
.spaces span { display: inline-block; width: 9px; height: 9px; margin: 1px; background: #ececec;
               border: 1px solid #aaa; }
.spaces span.occ { background: #777; }
.spaces span.bad { background: #fff; border-color: #b000b0; }
"""


def value(path: str, shown: Shown, extra_class: str = "", lang: str = "en") -> str:
    """One value with its quality marker (in ``lang``)."""
    text = label(shown.state, lang)
    badge = f'<b class="qb">{escape(text)}</b>' if text else ""
    cls = f"v q-{shown.state} {extra_class}".strip()
    title = f' title="{escape(shown.why)}"' if shown.why else ""
    return (f'<span class="{cls}" data-path="{escape(path)}" data-q="{shown.state}"{title}>'
            f"{escape(shown.text)}{badge}</span>")


def bar(path: str, shown: Shown, number, lo: float, hi: float, normal: tuple[float | None, float | None],
        lang: str = "en") -> str:
    """An analog bar: the scale, the normal band and a pointer; the value beside it."""
    span = (hi - lo) or 1.0

    def pos(x: float) -> float:
        return max(0.0, min(100.0, (x - lo) * 100.0 / span))

    nlo, nhi = normal
    band = ""
    if nlo is not None or nhi is not None:
        a, b = pos(nlo if nlo is not None else lo), pos(nhi if nhi is not None else hi)
        band = f'<span class="norm" style="left:{a:.1f}%;width:{max(b - a, 0.5):.1f}%"></span>'
    abnormal = shown.state == GOOD and isinstance(number, (int, float)) and (
        (nlo is not None and number < nlo) or (nhi is not None and number > nhi))
    ptr = ""
    if shown.state in (GOOD, UNCERTAIN, STALE) and isinstance(number, (int, float)):
        ptr = f'<span class="ptr{" abn" if abnormal else ""}" style="left:calc({pos(number):.1f}% - 1px)"></span>'
    return f'<span class="bar">{band}{ptr}</span>' + value(path, shown, "abn" if abnormal else "", lang)


def lamp(path: str, shown: Shown, on_text: str, off_text: str, alarm_when: bool | None = None,
         raw=None, lang: str = "en") -> str:
    """A discrete state: greys for on/off, orange only when the state itself is abnormal."""
    if shown.state != GOOD:
        return value(path, shown, lang=lang)
    is_on = bool(raw)
    cls = "alarm" if alarm_when is not None and is_on == alarm_when else ("on" if is_on else "off")
    return (f'<span class="lamp {cls}" data-path="{escape(path)}" data-q="{GOOD}">'
            f"{escape(on_text if is_on else off_text)}</span>")


def priority(p: str, lang: str = "en") -> str:
    """A priority chip in its colour (the standard priority names translated, configured ones as is)."""
    text = p.upper() if lang == "en" else optional(lang, "prio", p)
    return f'<span class="prio" style="background:{PRIORITY_COLOURS.get(p, "#777")}">{escape(text)}</span>'


def card(title: str, body: str) -> str:
    """A grey card with a title."""
    return f'<div class="hmi-card"><h4>{escape(title)}</h4>{body}</div>'


def rows(items: list[tuple[str, str]]) -> str:
    """A two-column table of (label, html)."""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in items)
    return f"<table>{body}</table>"

