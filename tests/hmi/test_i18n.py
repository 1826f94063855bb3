"""The HMI screens in a zh session show no English UI words, an en session still shows English, and every
text key the HMI uses exists in both languages (no browser: pages are built directly, as the other hmi tests do).
"""

from __future__ import annotations

import ast
import html
import re
import string
from pathlib import Path
from types import SimpleNamespace

import panel as pn
import pytest

from hmi import i18n, pages
from hmi.alarms_view import STATE_NAMES, AlarmSource, AlarmSummary, _message, banner_html
from hmi.faceplate import STATUS_TEXT, Faceplates, result_html
from hmi.live import LiveView
from hmi.model import CLASS_NAMES, SiteIndex
from hmi.quality import STATES
from hmi.trends import RANGES, TrendPage
from tagdb.auth import Principal
from tagdb.system_tags import SystemTags
from tagdb.values import BAD_COMM_FAILURE, GOOD, UNCERTAIN, TagValue

HMI = Path(__file__).resolve().parents[2] / "hmi"
OPERATOR = Principal("op", frozenset({"operator"}), frozenset({"hmi.view", "hmi.command", "alarms.ack",
                                                                 "alarms.shelve"}))
VIEWER = Principal("tech", frozenset({"viewer"}), frozenset({"hmi.view"}))
# Words of the HMI's own English texts; none may reach a zh operator (case-sensitive, whole words).
ENGLISH_UI = ["Acknowledge", "Shelve", "Unshelve", "shelved", "acknowledged", "Good", "Bad", "Stale", "Uncertain",
              "Not yet read", "overview", "Overview", "abnormal", "normal", "in service", "OUT OF SERVICE",
              "Free spaces", "Demand", "Equipment", "Alarms", "Points", "Commands", "Trend", "Trends", "Range",
              "Live tail", "Export CSV", "Show", "Comment", "Priority", "State", "Building", "Area", "Floor",
              "Direction", "Door", "running", "stopped", "Confirm", "Cancel", "View only", "Last hour",
              "Today", "today", "occupied", "device", "point", "value", "quality", "description", "active",
              "unacknowledged", "critical", "high", "CRITICAL", "Set output", "Set setpoint", "manual", "auto",
              "Loop", "Elevators", "Chillers", "Meters", "Parking", "Lighting", "Supply air", "Chilled water",
              "ON", "OFF", "fault", "no call", "closed", "why", "Log out", "Occupancy", "Barrier", "Voltage"]
# Latin words a zh screen may show: units and abbreviations used as such in Chinese BMS screens.
LATIN_OK = {"COP", "UTC", "CSV", "SP", "PV", "OUT"}


@pytest.fixture
def world(alarm_world):
    """The demo's tags with values of every quality, the real alarm engine with active alarms."""
    w = alarm_world
    site, db, clock, t0 = w.site, w.db, w.clock, w.t0
    values = []
    for k, spec in enumerate(t for t in site.tags if not t.path.startswith("_system/")):
        value = (k % 2 == 0) if spec.data_type == "bool" else (k % 7 if spec.data_type.startswith(("int", "uint"))
                                                              else 10.0 + k % 13)
        quality = (BAD_COMM_FAILURE, UNCERTAIN, GOOD, GOOD, GOOD)[k % 5]
        values.append(TagValue(spec.path, value, quality, t0, t0))
    values.append(TagValue("tower-a/elevator-1/fault_code", 3, GOOD, t0, t0))
    db.update(values)
    health = SystemTags(db, clock)
    for k, device in enumerate(sorted({t.device for t in site.tags if t.device})):
        health.report_device(device, connected=k % 3 != 0)     # Good values of a lost device show as stale
    clock.advance(0)
    clock.advance(1)
    return w


def _texts(obj) -> list[str]:
    """What an operator can read in a Panel tree: HTML text and tooltips, widget labels, options, titles."""
    out: list[str] = []
    if isinstance(obj, pn.pane.HTML):
        markup = obj.object or ""
        out += [html.unescape(t) for t in re.findall(r'title="([^"]*)"', markup)]
        out.append(html.unescape(re.sub(r"<style.*?</style>|<[^>]+>", " ", markup, flags=re.S)))
    if isinstance(obj, pn.widgets.Widget):
        for attr in ("label", "placeholder"):
            if isinstance(getattr(obj, attr, None), str):
                out.append(getattr(obj, attr))
        options = getattr(obj, "options", None)
        if isinstance(options, dict):
            out += [str(k) for k in options]
        elif isinstance(options, list) and not isinstance(obj, pn.widgets.MultiChoice):   # tag paths
            out += [str(o) for o in options]
    if isinstance(obj, pn.widgets.Tabulator):
        out += list(obj.titles.values())
        for fmt in obj.formatters.values():
            out += [str(v) for k, v in fmt.items() if k != "type"]
    for child in getattr(obj, "objects", None) or []:
        out += _texts(child)
    return out


def _site_words(w) -> list[str]:
    """Text that comes from the site and stays as configured (names, paths, descriptions, units, messages)."""
    site = w.site
    words = {site.name, *(b.name for b in site.buildings), *(b.id for b in site.buildings)}
    for e in site.equipment:
        words |= {e.name, e.id, e.area or "", e.device or "", e.building or ""}
    for t in site.tags:
        words |= {t.path, t.path.rsplit("/", 1)[1], t.description or "", t.units or "", t.device or ""}
    for name, loop in ((site.section("control") or {}).get("loops") or {}).items():
        words |= {name, loop.get("description") or ""}
    for rec in w.system.engine.records.values():
        words |= {rec.definition.id, _message(rec), rec.definition.area or ""}
    return sorted((x for x in words if x), key=len, reverse=True)


def _operator_text(texts: list[str], site_words: list[str]) -> str:
    """The texts without the site's own words (whole words only: a unit "V" must not eat the V of "CSV")."""
    text = "\n".join(texts)
    pattern = "|".join(re.escape(w) for w in site_words)
    text = re.sub(rf"(?<![A-Za-z0-9])(?:{pattern})(?![A-Za-z0-9])", " ", text)
    return re.sub(r"\b(Bad|Uncertain|Good)[A-Z]\w*", " ", text)   # OPC UA status code names, kept as the standard


def _screens(w, lang: str, principal=OPERATOR) -> list[str]:
    """Every main screen of a session in ``lang``, rendered with the session's live values."""
    live = LiveView(w.db, lang)
    src = AlarmSource(w.system.engine, w.site)
    loops = dict((w.site.section("control") or {}).get("loops") or {})
    env = pages.Env(SiteIndex(w.site, w.system.engine), w.db, src, lambda *a, **k: None, principal,
                    history=object(), faceplates=Faceplates(SimpleNamespace(), principal, w.db, loops, lang),
                    clock=w.clock, lang=lang)
    built = [pages.overview(env)]
    for b in env.ix.building_ids():
        built.append(pages.building(env, b))
        built += [pages.equipment_class(env, b, cls) for cls in env.ix.classes(b)]
    shown_classes = set()
    for eq in w.site.equipment:
        if eq.equipment_class not in shown_classes or eq.id == "mall/ahu-1":
            shown_classes.add(eq.equipment_class)
            built.append(pages.equipment_detail(env, eq.id))
    texts: list[str] = []
    for page in built:
        live.show(page.blocks)
        for b in page.alarm_blocks:
            b.refresh(live.values)
        texts += _texts(page.layout)
    summary = AlarmSummary(src, principal, lambda: None, lang)
    summary._act("ack")                                     # nothing selected: the refusal is shown
    texts += _texts(summary.layout())
    summary.state.value = "all"
    texts += _texts(summary.layout())
    texts.append(html.unescape(re.sub(r"<[^>]+>", " ", banner_html(src, 3, lang))))
    trend = TrendPage(w.site, object(), w.clock, (), lang)
    texts += _texts(trend.layout())
    texts += _texts(TrendPage(w.site, None, w.clock, (), lang).layout())
    record = SimpleNamespace(status="refused", path="plant/chiller-1/setpoint", new_value=6.5, message="")
    texts.append(re.sub(r"<[^>]+>", " ", result_html(record, lang)))
    return texts


def test_a_zh_session_shows_no_english_ui_words(world):
    i18n.MISSING.clear()
    texts = _screens(world, "zh")
    assert len(texts) > 100
    text = _operator_text(texts, _site_words(world))
    found = [w for w in ENGLISH_UI if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text)]
    assert found == [], f"English UI words in a zh session: {found}"
    latin = set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_OK
    assert latin == set(), f"untranslated words in a zh session: {sorted(latin)}"
    for word in ("报警", "确认所选报警", "搁置所选报警", "解除搁置所选报警", "坏值", "不确定", "过期", "趋势",
                 "实时跟随", "总览", "下发设定值"):
        assert word in text, word
    assert not i18n.MISSING


def test_an_en_session_still_shows_english(world):
    i18n.MISSING.clear()
    texts = _screens(world, "en")
    text = "\n".join(texts)
    for word in ("Harbour View Demo Estate: overview", "Acknowledge selected", "Shelve selected",
                 "Unshelve selected", "Bad", "Uncertain", "Stale", "Live tail", "Export CSV", "Set setpoint",
                 "Select one or more alarms first", "Free spaces", "Elevators (2)", "CRITICAL"):
        assert word in text, word
    assert not re.search(r"[\u4e00-\u9fff]", text), "Chinese text in an en session"
    assert not i18n.MISSING


def test_viewer_sees_the_view_only_note_in_its_language(world):
    zh = "\n".join(_screens(world, "zh", VIEWER))
    assert "仅查看：您的角色无权下发指令" in zh and "View only" not in zh
    en = "\n".join(_screens(world, "en", VIEWER))
    assert "View only: your role may not send commands" in en


def test_every_key_has_both_languages_and_the_same_fields():
    assert set(i18n.TEXT["en"]) == set(i18n.TEXT["zh"]) == set(i18n.PAIRS)
    fields = string.Formatter()
    for key, (en, zh) in i18n.PAIRS.items():
        assert en and zh, key
        assert {f for _, f, _, _ in fields.parse(en) if f} == {f for _, f, _, _ in fields.parse(zh) if f}, key
        if re.search(r"[A-Za-z]", re.sub(r"\{\w+\}", "", en)):        # words, not only fields and punctuation
            assert re.search(r"[\u4e00-\u9fff]", zh), f"{key}: {zh!r} is not Chinese"


def _literal_keys() -> set[str]:
    """Text keys written as string literals in the HMI's modules (calls and tables)."""
    prefixes = {k.split(".", 1)[0] for k in i18n.PAIRS if "." in k}
    keys = set()
    for path in HMI.glob("*.py"):
        if path.name == "i18n.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                head, dot, rest = node.value.partition(".")
                if dot and head in prefixes and re.fullmatch(r"[a-z_]+( [a-z]+)?", rest):
                    keys.add(node.value)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("t", "tr"):
                args = node.args[1:] if getattr(node.func, "id", "") == "tr" else node.args
                if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                    keys.add(args[0].value)
    return keys


def test_every_key_the_hmi_uses_exists_in_both_languages():
    used = _literal_keys()
    assert {"a.ack_selected", "q.why.stale", "h.floor", "s.running", "login", "f.set_setpoint"} <= used
    # keys built at run time from a closed set of names
    used |= {f"q.{s}" for s in STATES} | {f"st.{s}" for s in STATE_NAMES} | {f"cls.{c}" for c in CLASS_NAMES}
    used |= {f"f.{s}" for s in STATUS_TEXT} | {f"dur.{k}" for k in RANGES} | {"f.manual", "f.auto"}
    used |= {f"a.{kind}.{a}" for kind in ("verb", "done") for a in ("ack", "shelve", "unshelve")}
    missing = {lang: sorted(k for k in used if k not in i18n.TEXT[lang]) for lang in i18n.LANGUAGES}
    assert missing == {lang: [] for lang in i18n.LANGUAGES}


def test_the_english_names_of_the_hmi_tables_are_the_english_texts():
    en = i18n.TEXT["en"]
    assert {s: en[f"st.{s}"] for s in STATE_NAMES} == STATE_NAMES
    assert {c: en[f"cls.{c}"] for c in CLASS_NAMES} == CLASS_NAMES
    assert {s: en[f"f.{s}"] for s in STATUS_TEXT} == STATUS_TEXT


def test_a_missing_key_is_reported_and_never_shown_raw_when_english_exists(monkeypatch):
    monkeypatch.setitem(i18n.TEXT, "zh", {k: v for k, v in i18n.TEXT["zh"].items() if k != "q.bad"})
    i18n.MISSING.clear()
    assert i18n.tr("zh", "q.bad") == "Bad"
    assert ("zh", "q.bad") in i18n.MISSING
    i18n.MISSING.clear()
