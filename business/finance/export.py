"""Statements as CSV (UTF-8 with BOM, so Excel shows Chinese) and as a printable HTML page."""

from __future__ import annotations

import csv
import html
import io

from .statements import public


def _tables(st: dict) -> list[tuple[str, list[dict]]]:
    kind = st["statement"]
    if kind == "trial_balance":
        return [("", st["rows"] + [{"account": "TOTAL", **st["totals"]}])]
    if kind == "balance_sheet":
        return [("Assets", st["assets"]), ("Liabilities", st["liabilities"]), ("Equity", st["equity"]),
                ("Totals", [st["totals"]])]
    if kind == "income_statement":
        return [("Revenue", st["revenue"]), ("Expenses", st["expenses"]), ("Totals", [st["totals"]])]
    if kind == "cash_flow":
        return [(s.capitalize(), rows) for s, rows in st["sections"].items()] + \
            [("Cash", [{"opening_cash": st["opening_cash"], "net_change": st["net_change"],
                        "closing_cash": st["closing_cash"]}])]
    if kind == "ageing":
        return [("", st["buildings"] + [{"building_id": "TOTAL", **st["total"]}])]
    return [("", st.get("rows", []))]


def to_csv(statement: dict) -> str:
    """One CSV with a section column; money stays exact yuan strings."""
    st = public(statement)
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    for section, rows in _tables(st):
        cols = list(dict.fromkeys(k for r in rows for k in r))
        w.writerow(["section", *cols])
        for r in rows:
            w.writerow([section, *[r.get(c, "") for c in cols]])
    return buf.getvalue()


def to_html(statement: dict, title: str = "") -> str:
    """A self-contained printable page (A4, no scripts)."""
    st = public(statement)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title or st['statement'])}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
             "td,th{border:1px solid #999;padding:3px 8px}td.n{text-align:right}@page{size:A4}</style></head><body>",
             f"<h1>{html.escape(title or st['statement'].replace('_', ' ').title())}</h1>",
             f"<p>{html.escape(' '.join(f'{k}: {st[k]}' for k in ('from', 'to', 'as_of') if k in st))}</p>"]
    for section, rows in _tables(st):
        if section:
            parts.append(f"<h2>{html.escape(section)}</h2>")
        cols = list(dict.fromkeys(k for r in rows for k in r))
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>")
        for r in rows:
            parts.append("<tr>" + "".join(
                f"<td class='n'>{html.escape(str(r.get(c, '')))}</td>" if _num(r.get(c)) else
                f"<td>{html.escape(str(r.get(c, '') if r.get(c) is not None else ''))}</td>" for c in cols) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _num(v) -> bool:
    return isinstance(v, str) and v.replace("-", "", 1).replace(".", "", 1).isdigit()
