"""`spms demo` end to end: every component of the demo estate starts, answers, and stops in reverse."""

from __future__ import annotations

import json
import signal
import socket
import urllib.request

import pytest

from .test_process import BIN, ROOT, Proc, order, wait_healthy


def free_port_offset(base: int = 15020, span: int = 40) -> int:
    """An offset that moves the demo's simulated devices onto currently free ports."""
    for _ in range(20):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span < 65000 and port > base:
            return port - base
    raise AssertionError("no free port range found")


@pytest.mark.slow
def test_demo_starts_every_component_and_stops_in_reverse(tmp_path):
    proc = Proc([str(BIN / "spms"), "demo", "--data-dir", str(tmp_path / "demo"), "--api-port", "0"], ROOT,
                env={"SPMS_SIM_PORT_OFFSET": str(free_port_offset())})
    try:
        url = proc.wait_stdout(r"REST API\s+(http://127\.0\.0\.1:\d+/api/v1)", timeout=180).group(1)
        health = wait_healthy(url, timeout=60)
        assert health["status"] == "ok", health
        for name in ("tagdb", "simulators", "collectors", "api"):
            assert health["components"][name]["state"] == "running"
        assert health["tag_count"] > 100
        with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as resp:
            doc = json.load(resp)
        assert {"/health", "/tags", "/tags/{path}", "/tags/{path}/write"} <= set(doc["paths"])
        proc.p.send_signal(signal.SIGTERM)
        assert proc.p.wait(timeout=120) == 0, proc.stderr[-5000:]
    finally:
        proc.kill()
    started = order(proc.stderr, "started")
    assert started[0] == "tagdb" and started[-1] == "api"
    assert order(proc.stderr, "stopped") == list(reversed(started))
