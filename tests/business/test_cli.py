"""``spms users`` and ``spms import`` against a small site folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]

SITE = """site:
  name: CLI estate
  timezone: Asia/Shanghai
  data_dir: var
buildings:
  - {id: tower-a, name: Tower A, use: residential, floors: 10}
business:
  property: {code: cli, name: CLI}
"""


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "site.yaml").write_text(SITE)
    return folder


def spms(*args, stdin: str = "", monkeypatch=None, capsys=None):
    """Run the CLI as a user does (a subprocess); returns (exit status, {out, err})."""
    proc = subprocess.run([sys.executable, "-m", "tagdb.cli.main", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, SimpleNamespace(out=proc.stdout, err=proc.stderr)


def test_users_add_list_token_and_import(site, monkeypatch, capsys, tmp_path):
    code, out = spms("users", "add", "alice", "--grant", "manager@building:tower-a", "--password-stdin",
                     "--site", str(site), stdin="Alice-pass-2026\n", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, out.err
    assert "Alice-pass-2026" not in out.out + out.err
    code, out = spms("users", "add", "bob", "--grant", "wizard@*", "--password-stdin", "--site", str(site),
                     stdin="Bob-pass-2026\n", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1 and "unknown role 'wizard'" in out.err
    code, out = spms("users", "list", "--site", str(site), capsys=capsys)
    assert code == 0 and "alice" in out.out and "manager@building:tower-a" in out.out and "bob" not in out.out
    code, out = spms("users", "token", "alice", "--name", "bms", "--days", "30", "--site", str(site), capsys=capsys)
    assert code == 0 and out.out.strip().startswith("spms_t_")
    # the property and building come from the site once the server has run; the CLI import needs them
    from business.database import Database
    from business.seed import sync_site
    from tagdb.site.loader import load_site
    from datetime import datetime, timezone
    s = load_site(site)
    db = Database(f"sqlite:///{site / 'var' / 'business.db'}")
    db.call(lambda sess: sync_site(sess, s, s.section("business")["property"], datetime.now(timezone.utc)))
    db.stop()
    good = tmp_path / "units.csv"
    good.write_text("building,code,floor,gross_area,inner_area\ntower-a,0101,1,80.00,60.00\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("building,code,floor,gross_area,inner_area\ntower-a,0102,1,80.00,60.00\ntower-a,0103,x1,x,60\n",
                   encoding="utf-8")
    code, out = spms("import", "units", str(bad), "--site", str(site), capsys=capsys)
    assert code == 1 and f"{bad}:3: floor:" in out.err and f"{bad}:3: gross_area:" in out.err
    assert "NOTHING written" in out.out
    code, out = spms("import", "units", str(good), "--dry-run", "--site", str(site), capsys=capsys)
    assert code == 0 and '"created": 1' in out.out and "dry run" in out.out
    code, out = spms("import", "units", str(good), "--site", str(site), capsys=capsys)
    assert code == 0 and '"created": 1' in out.out
    code, out = spms("import", "units", str(good), "--site", str(site), capsys=capsys)
    assert code == 0 and '"unchanged": 1' in out.out
