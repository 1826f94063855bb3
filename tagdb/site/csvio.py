"""CSV tag lists: one row a tag, the way SCADA engineers keep tags in spreadsheets.

Columns (header row required, any order; only ``path`` and ``type`` must be present,
an absent column or empty cell takes the default):

    path,type,units,description,device,address,raw_lo,raw_hi,eng_lo,eng_hi,clamp,
    deadband,range_lo,range_hi,scan_group,access[,word_order,byte_order,history]

The delimiter is the first of ``,``, ``;`` or tab found in the header row.
Errors are reported as ``file:ROW: COLUMN: message`` where ROW counts like a
spreadsheet: the header is row 1, the first tag row 2.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .build import Where
from .core_schema import DeadbandSchema, path_problem, tag_cross_errors
from .errors import ConfigError, Loc
from .model import DATA_TYPES, Deadband, TagSpec
from .schema import Errors, did_you_mean

COLUMNS = ("path", "type", "units", "description", "device", "address", "raw_lo", "raw_hi", "eng_lo",
           "eng_hi", "clamp", "deadband", "range_lo", "range_hi", "scan_group", "access")
EXTRA_COLUMNS = ("word_order", "byte_order", "history")
ALL_COLUMNS = COLUMNS + EXTRA_COLUMNS
REQUIRED_COLUMNS = ("path", "type")
# Which column a cross-field error about a tag key points at.
_KEY_COLUMN = {"scaling": "raw_lo", "scaling.raw": "raw_lo", "scaling.eng": "eng_lo", "range": "range_lo"}
_TRUE, _FALSE = ("true", "yes", "1", "y"), ("false", "no", "0", "n")


@dataclass
class CsvTag:
    """One good row: the validated tag dict plus where it came from."""

    tag: dict
    path: str
    device: str | None
    loc: Loc
    where: Where


def _where(loc: Loc) -> Where:
    def where(key: str, message: str) -> ConfigError:
        return ConfigError(loc, _KEY_COLUMN.get(key, key.split(".")[0]), message)
    return where


def _number(cell: str, col: str, loc: Loc, errors: Errors) -> float | int | None:
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        value = float(cell)
    except ValueError:
        errors.append(ConfigError(loc, col, f"expected a number, got {cell!r}"))
        return None
    if value != value or value in (float("inf"), float("-inf")):
        errors.append(ConfigError(loc, col, f"expected a finite number, got {cell!r}"))
        return None
    return value


def _bool(cell: str, col: str, loc: Loc, errors: Errors, default: bool) -> bool:
    if not cell:
        return default
    if cell.lower() in _TRUE:
        return True
    if cell.lower() in _FALSE:
        return False
    errors.append(ConfigError(loc, col, f"expected true or false, got {cell!r}"))
    return default


def _choice(cell: str, col: str, loc: Loc, errors: Errors, choices: Iterable[str], default: Any) -> Any:
    if not cell:
        return default
    if cell not in choices:
        errors.append(ConfigError(loc, col, f"{cell!r} is not one of {', '.join(choices)}"))
        return default
    return cell


def _pair(row: dict, lo: str, hi: str, loc: Loc, errors: Errors) -> tuple | None:
    if not row.get(lo) and not row.get(hi):
        return None
    for col in (lo, hi):
        if not row.get(col):
            errors.append(ConfigError(loc, col, f"{lo} and {hi} go together: fill both or neither"))
            return None
    a, b = _number(row[lo], lo, loc, errors), _number(row[hi], hi, loc, errors)
    return None if a is None or b is None else (a, b)


def parse_row(row: dict, loc: Loc) -> tuple[CsvTag | None, Errors]:
    """Validate one CSV row (cells already stripped) into a tag dict."""
    errors: Errors = []
    path = row.get("path", "")
    if not path:
        errors.append(ConfigError(loc, "path", "is required"))
    elif problem := path_problem(path):
        errors.append(ConfigError(loc, "path", problem))
    if not row.get("type"):
        errors.append(ConfigError(loc, "type", "is required"))
    dtype = _choice(row.get("type", ""), "type", loc, errors, DATA_TYPES, None)
    raw, eng = _pair(row, "raw_lo", "raw_hi", loc, errors), _pair(row, "eng_lo", "eng_hi", loc, errors)
    if (raw is None) != (eng is None) and not errors:
        col = "eng_lo" if raw is not None else "raw_lo"
        errors.append(ConfigError(loc, col, "a scaling needs raw_lo, raw_hi, eng_lo and eng_hi"))
    clamp = _bool(row.get("clamp", ""), "clamp", loc, errors, False)
    deadband = Deadband()
    if row.get("deadband"):
        value = _number(row["deadband"], "deadband", loc, []) if not row["deadband"].endswith("%") else None
        deadband, errs = DeadbandSchema().check(value if value is not None else row["deadband"], "deadband", loc)
        errors += errs
    tag = {
        "type": dtype, "address": row.get("address") or None, "units": row.get("units", ""),
        "description": row.get("description", ""),
        "scaling": {"raw": raw, "eng": eng, "clamp": clamp} if raw and eng else None,
        "deadband": deadband, "range": _pair(row, "range_lo", "range_hi", loc, errors),
        "scan_group": row.get("scan_group") or "default",
        "access": _choice(row.get("access", ""), "access", loc, errors, ("r", "rw"), "r"),
        "word_order": _choice(row.get("word_order", ""), "word_order", loc, errors, ("big", "little"), None),
        "byte_order": _choice(row.get("byte_order", ""), "byte_order", loc, errors, ("big", "little"), None),
        "history": _bool(row.get("history", ""), "history", loc, errors, True),
    }
    if errors:
        return None, errors
    where = _where(loc)
    errors = tag_cross_errors(tag, where)
    if errors:
        return None, errors
    return CsvTag(tag, path, row.get("device") or None, loc, where), []


def read_tags_csv(file: Path, display: str | None = None) -> tuple[list[CsvTag], Errors]:
    """Every good row of a CSV tag list, and every error of the bad ones."""
    name = display or str(file)
    try:
        data = file.read_bytes()
    except OSError as exc:
        return [], [ConfigError(Loc(name), "", f"cannot read tag list: {exc}")]
    text = decode_csv(data)
    if text is None:
        return [], [ConfigError(Loc(name), "", "cannot read tag list: neither UTF-8 nor GB18030 text")]
    return parse_tags_csv(text, name)


def decode_csv(data: bytes) -> str | None:
    """CSV bytes as text: UTF-8 (with or without Excel's BOM), else GB18030 (Excel's
    "CSV" on Chinese Windows saves GBK), else None."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def parse_tags_csv(text: str, name: str) -> tuple[list[CsvTag], Errors]:
    """Parse CSV text (see the module docstring for the columns)."""
    first = text.split("\n", 1)[0]
    # Spreadsheets set to a comma decimal separator save with ';' (or tabs): follow the header.
    delimiter = next((d for d in ",;\t" if d in first), ",")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        return [], [ConfigError(Loc(name), "", f"invalid CSV: {exc}")]
    if not rows:
        return [], [ConfigError(Loc(name, 1), "", "empty tag list: the header row is missing")]
    header = [h.strip() for h in rows[0]]
    errors: Errors = []
    for i, col in enumerate(header):
        if col not in ALL_COLUMNS:
            errors.append(ConfigError(Loc(name, 1), col or f"column {i + 1}",
                                      f"unknown column{did_you_mean(col, ALL_COLUMNS)} "
                                      f"(columns: {', '.join(ALL_COLUMNS)})"))
        elif header.index(col) != i:
            errors.append(ConfigError(Loc(name, 1), col, "column appears twice"))
    errors += [ConfigError(Loc(name, 1), col, "required column is missing")
               for col in REQUIRED_COLUMNS if col not in header]
    if errors:
        return [], errors
    tags: list[CsvTag] = []
    for n, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue                                    # blank spreadsheet rows
        loc = Loc(name, n)
        if len(cells) > len(header):
            errors.append(ConfigError(loc, "", f"{len(cells)} cells but the header has {len(header)} columns"))
            continue
        tag, errs = parse_row({h: c.strip() for h, c in zip(header, cells)}, loc)
        errors += errs
        if tag is not None:
            tags.append(tag)
    return tags, errors


def _num(v: float | int) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def tag_row(t: TagSpec) -> list[str]:
    """The CSV cells of one tag, in ``ALL_COLUMNS`` order."""
    s = t.scaling
    db = "" if not t.deadband.value else _num(t.deadband.value) + ("%" if t.deadband.percent else "")
    has_range = t.eu_lo is not None and t.eu_hi is not None
    return [t.path, t.data_type, t.units, t.description, t.device or "", t.address or "",
            _num(s.raw_lo) if s else "", _num(s.raw_hi) if s else "", _num(s.eng_lo) if s else "",
            _num(s.eng_hi) if s else "", ("true" if s.clamp else "false") if s else "", db,
            _num(t.eu_lo) if has_range else "", _num(t.eu_hi) if has_range else "",
            t.scan_group, t.access, t.word_order or "", t.byte_order or "", "true" if t.history else "false"]


def write_tags_csv(tags: Iterable[TagSpec], out) -> int:
    """Write a header and one row per tag to the text stream ``out``; returns the row count."""
    writer = csv.writer(out)          # RFC 4180 line ends: a '\r' inside a cell gets quoted too
    writer.writerow(ALL_COLUMNS)
    n = 0
    for t in tags:
        writer.writerow(tag_row(t))
        n += 1
    return n
