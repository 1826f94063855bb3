"""A private InfluxDB 1.x process for tests that stop and restart the server (like scripts/test does)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from twisted.internet import task

from collectors.testing import free_port


class InfluxProcess:
    """``influxd`` with its own config, folders and loopback port; start/stop/restart keep the data."""

    def __init__(self, root: Path) -> None:
        if shutil.which("influxd") is None:
            pytest.skip("influxd is not installed (scripts/test installs it)")
        self.root = Path(root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "influxdb.conf").write_text(f"""reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{self.root}/meta"
[data]
  dir = "{self.root}/data"
  wal-dir = "{self.root}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[ifql]
  enabled = false
""")

    async def start(self, reactor, timeout: float = 20.0) -> None:
        """Start and wait until ``/ping`` answers."""
        log = open(self.root / "log", "ab")
        self.proc = subprocess.Popen(["influxd", "-config", str(self.root / "influxdb.conf")], stdout=log,
                                     stderr=subprocess.STDOUT)
        deadline = reactor.seconds() + timeout
        while not self._pings():
            if self.proc.poll() is not None:
                raise AssertionError(f"influxd exited: {(self.root / 'log').read_text()[-2000:]}")
            if reactor.seconds() > deadline:
                raise AssertionError("influxd did not answer /ping")
            await task.deferLater(reactor, 0.05, lambda: None)

    def _pings(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
                return b" 204 " in s.recv(100)
        except OSError:
            return False

    async def stop(self, reactor, timeout: float = 20.0) -> None:
        """SIGTERM and wait for the process to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        deadline = reactor.seconds() + timeout
        while self.proc.poll() is None:
            if reactor.seconds() > deadline:
                self.proc.kill()
            await task.deferLater(reactor, 0.05, lambda: None)

    def kill(self) -> None:
        """Synchronous clean-up for finalizers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
