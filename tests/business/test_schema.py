"""The ``business:`` section: every error names file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tagdb.site.errors import SiteConfigError
from tagdb.site.loader import load_site

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
BAD = """business:
  database: {url: "mysql://nope"}
  security: {lockout: soon, max_failed_logins: 0}
  colour: red
  seed:
    demo: true
    users:
      - {username: x, password: long-enough-1, grants: [[wizard, "*"]]}
      - {username: y, password: long-enough-1, unit: tower-z/0101, grants: [[owner, unit]]}
      - {username: z, password: long-enough-1, grants: [[manager, "building:tower-q"]]}
"""


def test_bad_business_section_reports_file_line_and_field(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(DEMO / "site.yaml", site / "site.yaml")
    (site / "business.yaml").write_text(BAD)
    with pytest.raises(SiteConfigError) as exc:
        load_site(site)
    text = str(exc.value)
    for line, field in ((2, "business.database.url"), (3, "business.security.lockout"),
                        (3, "business.security.max_failed_logins"), (4, "business.colour"),
                        (8, "business.seed.users[0].grants[0]")):
        assert f"business.yaml:{line}: {field}" in text, (line, field, text)
    assert "unknown role 'wizard'" in text


def test_unknown_buildings_in_demo_users(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(DEMO / "site.yaml", site / "site.yaml")
    (site / "business.yaml").write_text(BAD.split("  database")[0] + "  seed:\n" + BAD.split("  seed:\n")[1]
                                        .replace('[[wizard, "*"]]', '[[admin, "*"]]'))
    with pytest.raises(SiteConfigError) as exc:
        load_site(site)
    text = str(exc.value)
    assert "business.yaml:6: business.seed.users[1].unit: unknown building 'tower-z'" in text
    assert "business.yaml:7: business.seed.users[2].grants: unknown building 'tower-q'" in text


def test_demo_business_section_loads_with_defaults():
    section = load_site(DEMO).section("business")
    assert section["security"]["lockout"] == 900.0 and section["security"]["token_lifetime"] == 90 * 86400.0
    assert section["database"] == {} or section["database"].get("url") is None
