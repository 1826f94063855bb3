"""The demo estate end to end: every component starts, answers, and stops in reverse.

The demo's own files are copied and its fixed listening ports (HMI, business web)
moved to free ones, so the test also runs while someone has `spms demo` open.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import urllib.request

import pytest

from collectors.sim.demo import free_port_offset, load_demo
from tagdb.cli.run import DEMO_SITE

from .test_process import BIN, ROOT, Proc, order, wait_healthy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_copy(tmp_path):
    site = tmp_path / "demo-site"
    shutil.copytree(DEMO_SITE, site, ignore=shutil.ignore_patterns("var"))
    for name, fixed in (("hmi.yaml", "port: 5011"), ("business.yaml", "port: 5010")):
        path = site / name
        if path.exists():
            path.write_text(path.read_text().replace(fixed, f"port: {free_port()}"))
    return site


@pytest.mark.slow
def test_demo_starts_every_component_and_stops_in_reverse(tmp_path):
    site = demo_copy(tmp_path)
    proc = Proc([str(BIN / "spms"), "run", str(site), "--data-dir", str(tmp_path / "data"), "--api-port", "0"],
                ROOT, env={"SPMS_SIM_PORT_OFFSET": str(free_port_offset(load_demo(0)))})
    try:
        url = proc.wait_stdout(r"REST API\s+(http://127\.0\.0\.1:\d+/api/v1)", timeout=180).group(1)
        if (site / "hmi.yaml").exists():
            proc.wait_stdout(r"HMI\s+http://127\.0\.0\.1:\d+/", timeout=10)
        health = wait_healthy(url, timeout=60)
        assert health["status"] == "ok", health
        for name in ("tagdb", "simulators", "collectors", "api"):
            assert health["components"][name]["state"] == "running"
        assert health["tag_count"] > 100
        with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as resp:
            doc = json.load(resp)
        assert {"/health", "/tags", "/tags/{path}", "/tags/{path}/write"} <= set(doc["paths"])
        # Ctrl-C: Panel (HMI, business web) installs its own SIGINT handler; ours must win.
        proc.p.send_signal(signal.SIGINT)
        assert proc.p.wait(timeout=120) == 0, proc.stderr[-5000:]
    finally:
        proc.kill()
    started = order(proc.stderr, "started")
    assert started[0] == "tagdb" and started[-1] == "api"
    assert order(proc.stderr, "stopped") == list(reversed(started))


def test_demo_command_runs_the_bundled_site():
    assert (DEMO_SITE / "site.yaml").is_file()
    from tagdb.cli.helpers import load_or_report

    site = load_or_report(DEMO_SITE)
    assert site is not None and site.tags
