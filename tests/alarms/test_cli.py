"""``spms alarms list`` and ``spms alarms notify-test`` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from collectors.testing import free_port, start_smtp

ROOT = Path(__file__).resolve().parents[2]


def spms(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagdb.cli.main", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=90, env={**os.environ, **(env or {})})


def test_list_shows_the_demo_alarms():
    out = spms("alarms", "list", "--site", "examples/demo", "--priority", "critical", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    ids = {r["id"] for r in rows}
    assert "plant/chiller-1/supply_temp:HH" in ids and "tower-a/elevator-1/fault_code:ENTRAPMENT" in ids
    assert all(r["priority"] == "critical" for r in rows)


def test_list_reports_a_broken_site(tmp_path):
    (tmp_path / "site.yaml").write_text("site: {name: x, timezone: UTC}\nalarms:\n  rules:\n"
                                        "    - {type: limit, tag: nowhere, h: 1}\n")
    out = spms("alarms", "list", "--site", str(tmp_path))
    assert out.returncode == 1
    assert "site.yaml:4: alarms.rules[0].tag: 'nowhere' matches no tag" in out.stderr


def test_notify_test_sends_through_the_configured_channel():
    port = free_port()
    ctl, inbox = start_smtp(port)
    try:
        out = spms("alarms", "notify-test", "email", "tech@example.test", "--text", "commissioning check",
                   env={"SPMS_DEMO_SMTP_PORT": str(port)})
        assert out.returncode == 0, out.stderr
        assert len(inbox.messages) == 1 and inbox.messages[0].rcpt_tos == ["tech@example.test"]
        assert "Subject: [spms] commissioning check" in inbox.messages[0].content.decode()
    finally:
        ctl.stop()
    out = spms("alarms", "notify-test", "email", "tech@example.test", env={"SPMS_DEMO_SMTP_PORT": str(port)})
    assert out.returncode == 1 and "Connection refused" in out.stderr
    out = spms("alarms", "notify-test", "pager", "x")
    assert out.returncode == 1 and "no channel 'pager'" in out.stderr
