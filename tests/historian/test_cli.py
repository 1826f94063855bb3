"""``spms grafana export`` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _spms(*args):
    return subprocess.run([sys.executable, "-m", "tagdb.cli.main", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_export_writes_provisioning_for_the_demo_site(tmp_path):
    out = _spms("grafana", "export", str(tmp_path), "--site", "examples/demo",
                "--influx-url", "http://influxdb:8086", "--database", "spms")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "datasources" / "spms.yaml").exists()
    overview = json.loads((tmp_path / "dashboards" / "spms" / "site-overview.json").read_text())
    assert overview["uid"] == "spms-site"


def test_export_without_influxdb_says_what_is_missing(tmp_path):
    out = _spms("grafana", "export", str(tmp_path), "--site", "examples/demo")
    assert out.returncode == 1
    assert "--influx-url" in out.stderr and "influxdb sink" in out.stderr
