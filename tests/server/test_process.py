"""The real process: `spms run` and `twist spms` start, answer, and stop on signals.

Each test runs the server in a subprocess, waits for the URL it prints and for
/health to answer (bounded), then signals it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TINY_SITE = """\
site:
  name: Tiny
  timezone: UTC
server:
  api:
    address: 127.0.0.1
    port: 8080
"""


class Proc:
    """A subprocess whose stdout and stderr lines are collected by reader threads."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.p = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.out: queue.Queue[str] = queue.Queue()
        self.err_lines: list[str] = []
        self._err_cond = threading.Condition()
        threading.Thread(target=self._pump, args=(self.p.stdout, self.out.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.p.stderr, self._err), daemon=True).start()

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    def _err(self, line: str) -> None:
        with self._err_cond:
            self.err_lines.append(line)
            self._err_cond.notify_all()

    @property
    def stderr(self) -> str:
        return "\n".join(self.err_lines)

    def wait_stdout(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.p.poll() is not None and self.out.empty():
                raise AssertionError(f"no stdout line matching {pattern!r}; stderr:\n{self.stderr}")
            try:
                line = self.out.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if m := re.search(pattern, line):
                return m

    def wait_stderr(self, text: str, timeout: float = 30) -> None:
        with self._err_cond:
            ok = self._err_cond.wait_for(lambda: any(text in line for line in self.err_lines), timeout)
        assert ok, f"{text!r} never logged; stderr:\n{self.stderr}"

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


def wait_healthy(api_url: str, timeout: float = 30) -> dict:
    """Poll /health until it answers 200 (the server starts the API last)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=5) as resp:
                return json.load(resp)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)  # polling a condition with a deadline, not waiting for an event
    raise AssertionError("the server never became healthy")


def order(stderr: str, verb: str) -> list[str]:
    return re.findall(rf"spms\.server: {verb} (\S+)", stderr)


@pytest.fixture
def tiny(tmp_path) -> Path:
    site = tmp_path / "tiny.yaml"
    site.write_text(TINY_SITE)
    return site


@pytest.mark.slow
def test_sigterm_stops_cleanly_in_reverse_order(tiny, tmp_path):
    proc = Proc([str(BIN / "spms"), "run", str(tiny), "--api-port", "0", "--data-dir", str(tmp_path / "d")], ROOT)
    try:
        url = proc.wait_stdout(r"REST API\s+(http://127\.0\.0\.1:\d+/api/v1)").group(1)
        health = wait_healthy(url)
        assert health["status"] == "ok" and health["site"] == "Tiny"
        assert "tagdb" in health["components"] and "api" in health["components"]
        proc.p.send_signal(signal.SIGTERM)
        assert proc.p.wait(timeout=30) == 0, proc.stderr
    finally:
        proc.kill()
    started = order(proc.stderr, "started")
    assert started[0] == "tagdb" and started[-1] == "api"
    assert order(proc.stderr, "stopping") == list(reversed(started))
    assert order(proc.stderr, "stopped") == list(reversed(started))
    assert "SIGTERM received" in proc.stderr


@pytest.mark.slow
def test_second_signal_forces_exit(tmp_path):
    proc = Proc([sys.executable, str(Path(__file__).with_name("hanging_server.py")), str(tmp_path)], ROOT)
    try:
        url = proc.wait_stdout(r"REST API\s+(http://127\.0\.0\.1:\d+/api/v1)").group(1)
        wait_healthy(url)
        proc.p.send_signal(signal.SIGINT)
        proc.wait_stderr("stopping stuck")
        assert proc.p.poll() is None  # stuck in the component's stop
        proc.p.send_signal(signal.SIGTERM)
        assert proc.p.wait(timeout=15) == 130
    finally:
        proc.kill()
    assert "second signal (SIGTERM): forcing exit" in proc.stderr
    assert order(proc.stderr, "stopped") == ["api"]


@pytest.mark.slow
def test_signal_during_the_build_ends_the_run_before_anything_starts(tmp_path):
    proc = Proc([sys.executable, str(Path(__file__).with_name("hanging_server.py")), str(tmp_path), "slow-build"],
                ROOT)
    try:
        proc.wait_stdout(r"building stuck")
        proc.p.send_signal(signal.SIGTERM)
        assert proc.p.wait(timeout=30) == 0, proc.stderr
    finally:
        proc.kill()
    assert "SIGTERM received" in proc.stderr
    assert "stopped before start-up" in proc.stderr
    assert order(proc.stderr, "starting") == []


@pytest.mark.slow
def test_component_failing_to_start_exits_1_naming_it(tiny, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        proc = Proc([str(BIN / "spms"), "run", str(tiny), "--api-port", str(port), "--data-dir", str(tmp_path)],
                    ROOT)
        try:
            assert proc.p.wait(timeout=60) == 1
        finally:
            proc.kill()
    finally:
        busy.close()
    assert "start-up failed: component 'api' failed to start" in proc.stderr
    assert order(proc.stderr, "stopped")[-1] == "tagdb"


def test_bad_site_prints_file_line_field(tmp_path):
    site = tmp_path / "bad.yaml"
    site.write_text("site:\n  name: Bad\n  timezone: UTC\nserver:\n  api:\n    port: seventy\n")
    result = subprocess.run([str(BIN / "spms"), "run", str(site)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert re.search(rf"{re.escape(str(site))}:6: server\.api\.port: .*seventy", result.stderr), result.stderr


@pytest.mark.slow
def test_twist_plugin_start_failure_exits_1(tiny, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        result = subprocess.run([str(BIN / "twist"), "--log-format=text", "spms", "--site", str(tiny),
                                 "--api-port", str(busy.getsockname()[1]), "--data-dir", str(tmp_path)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        busy.close()
    assert result.returncode == 1
    assert "component 'api' failed to start" in result.stdout + result.stderr


@pytest.mark.slow
def test_twist_plugin_runs_and_stops(tiny, tmp_path):
    proc = Proc([str(BIN / "twist"), "--reactor=asyncio", "spms", "--site", str(tiny), "--api-port", "0",
                 "--data-dir", str(tmp_path / "d")], ROOT)
    try:
        url = proc.wait_stdout(r"REST API\s+(http://127\.0\.0\.1:\d+/api/v1)").group(1)
        assert wait_healthy(url)["status"] == "ok"
        proc.p.send_signal(signal.SIGTERM)
        assert proc.p.wait(timeout=30) == 0, proc.stderr
    finally:
        proc.kill()
