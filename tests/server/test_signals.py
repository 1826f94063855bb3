"""Signal handling in-process: first signal schedules the shutdown, second forces exit."""

from __future__ import annotations

import os
import signal
import threading

from tagdb.server.signals import FORCED_EXIT_STATUS, ShutdownSignals, preserve_signal_handlers


class Recorder:
    def __init__(self) -> None:
        self.scheduled: list = []
        self.exits: list[int] = []
        self.exited = threading.Event()

    def call_from_thread(self, fn, *args) -> None:
        self.scheduled.append(fn)

    def exit(self, status: int) -> None:
        self.exits.append(status)
        self.exited.set()


def test_first_signal_schedules_shutdown_second_forces_exit():
    rec = Recorder()
    shutdown = object()
    sigs = ShutdownSignals(shutdown, rec.call_from_thread, grace=60, exit=rec.exit)
    before = signal.getsignal(signal.SIGINT)
    sigs.install()
    try:
        assert signal.getsignal(signal.SIGTERM) == sigs.handle
        os.kill(os.getpid(), signal.SIGTERM)
        assert rec.scheduled == [shutdown] and rec.exits == []
        os.kill(os.getpid(), signal.SIGINT)
        assert rec.exits == [FORCED_EXIT_STATUS]
        assert rec.scheduled == [shutdown]  # the shutdown is not started twice
        assert sigs.received == (signal.SIGTERM, signal.SIGINT)
    finally:
        sigs.uninstall()
    assert signal.getsignal(signal.SIGINT) == before


def test_watchdog_forces_exit_when_shutdown_hangs():
    rec = Recorder()
    sigs = ShutdownSignals(lambda: None, rec.call_from_thread, grace=0.05, exit=rec.exit)
    sigs.install()
    try:
        sigs.handle(signal.SIGTERM)
        assert rec.exited.wait(10)
        assert rec.exits == [FORCED_EXIT_STATUS]
    finally:
        sigs.uninstall()


def test_completed_shutdown_disarms_the_watchdog():
    rec = Recorder()
    sigs = ShutdownSignals(lambda: None, rec.call_from_thread, grace=0.2, exit=rec.exit)
    sigs.install()
    sigs.handle(signal.SIGTERM)
    sigs.uninstall()
    assert not rec.exited.wait(0.5)


def test_reinstall_keeps_the_original_previous_handler():
    sigs = ShutdownSignals(lambda: None, lambda fn: None, grace=1)
    before = signal.getsignal(signal.SIGINT)
    sigs.install()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # e.g. the reactor installed its own
    sigs.install()
    assert signal.getsignal(signal.SIGINT) == sigs.handle
    sigs.uninstall()
    assert signal.getsignal(signal.SIGINT) == before


def test_preserve_signal_handlers_undoes_what_a_library_installs():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with preserve_signal_handlers():
        signal.signal(signal.SIGINT, lambda *a: None)  # what pn.serve does
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    assert {sig: signal.getsignal(sig) for sig in before} == before
