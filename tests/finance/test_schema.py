"""The finance: section: floats for money are refused with file and line; unknown buildings are named."""

from __future__ import annotations

from pathlib import Path

from tagdb.site.loader import load_site


def _site(tmp_path: Path, finance: str) -> Path:
    (tmp_path / "site.yaml").write_text(
        "site: {name: t, timezone: Asia/Shanghai}\nbuildings: [{id: tower-a, name: A, use: residential, floors: 3}]\n"
        "business: {property: {code: t, name: T}}\n" + finance, encoding="utf-8")
    return tmp_path / "site.yaml"


def errors_of(tmp_path, text):
    from tagdb.site.errors import SiteConfigError
    try:
        load_site(_site(tmp_path, text))
    except SiteConfigError as exc:
        return [str(e) for e in exc.errors]
    return []


def test_demo_finance_section_is_valid():
    site = load_site(Path(__file__).parents[2] / "examples" / "demo")
    items = site.section("finance")["fee_items"]
    assert {i["kind"] for i in items} >= {"gross_area", "metered", "shared", "fixed", "parking_monthly", "parking_temp"}


def test_float_prices_and_unknown_buildings_are_reported(tmp_path):
    errs = errors_of(tmp_path, "finance:\n  fee_items:\n"
                               "    - {code: mgmt, name: M, kind: gross_area, account: '5101', params: {price: 2.85}}\n"
                               "    - {code: x, name: X, kind: metered, account: '5102', params: {buildings: [nowhere]}}\n"
                               "  budgets:\n    - {year: 2026, account: '6401', annual: 1.5}\n")
    text = "\n".join(errs)
    assert "site.yaml:6" in text and "finance.fee_items[0].params.price" in text and "quoted decimal" in text
    assert "needs price or tiers" in text
    assert "finance.budgets[0].annual" in text
