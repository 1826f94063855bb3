"""Signal handling: the first SIGINT/SIGTERM stops cleanly, a second one forces exit.

The handlers are plain ``signal.signal`` handlers rather than Twisted's, for two
reasons: the first signal must run an orderly, bounded shutdown of the service
tree (not just ``reactor.stop``), and a second signal must end a process whose
shutdown is stuck, which only ``os._exit`` can guarantee. Libraries that install
their own handlers (Panel's ``pn.serve`` replaces SIGINT with one that stops the
event loop behind Twisted's back) are wrapped in :func:`preserve_signal_handlers`.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Exit status when a second signal (or the shutdown watchdog) forces the exit.
FORCED_EXIT_STATUS = 130


@contextmanager
def preserve_signal_handlers(signals=SIGNALS) -> Iterator[None]:
    """Restore the current handlers of ``signals`` after the block, whatever it installed."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be read and set in the main thread
        return
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if signal.getsignal(sig) is not handler and handler is not None:
                signal.signal(sig, handler)


class ShutdownSignals:
    """Installs SIGINT/SIGTERM handlers that call ``shutdown`` once, then force the exit.

    ``shutdown`` is handed to ``call_from_thread`` (``reactor.callFromThread``),
    which is safe from a signal handler and wakes the event loop. When the
    orderly shutdown takes longer than ``grace`` seconds (a wedged reactor can't
    run its own timeouts), a watchdog thread forces the exit.
    """

    def __init__(self, shutdown: Callable[[], None], call_from_thread: Callable[..., None],
                 grace: float, exit: Callable[[int], None] = os._exit) -> None:
        self._shutdown = shutdown
        self._call_from_thread = call_from_thread
        self.grace = grace
        self._exit = exit
        self._received: list[int] = []
        self._previous: dict[int, object] = {}
        self._watchdog: threading.Timer | None = None

    @property
    def received(self) -> tuple[int, ...]:
        """Signal numbers received so far."""
        return tuple(self._received)

    def install(self) -> None:
        """Install the handlers (main thread only), remembering the previous ones.

        Calling it again re-asserts the handlers (after the reactor installed its own).
        """
        for sig in SIGNALS:
            current = signal.getsignal(sig)
            if current != self.handle:
                self._previous.setdefault(sig, current)
                signal.signal(sig, self.handle)

    def uninstall(self) -> None:
        """Put the previous handlers back and disarm the watchdog."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        self.disarm()

    def disarm(self) -> None:
        """Cancel the watchdog (shutdown completed)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def handle(self, signum: int, frame=None) -> None:
        """The signal handler."""
        self._received.append(signum)
        name = signal.Signals(signum).name
        if len(self._received) == 1:
            _say(f"spms: {name} received, stopping (send it again to force exit)")
            self._watchdog = threading.Timer(self.grace, self._force,
                                             args=(f"shutdown took longer than {self.grace:g} s",))
            self._watchdog.daemon = True
            self._watchdog.start()
            self._call_from_thread(self._shutdown)
        else:
            self._force(f"second signal ({name})")

    def _force(self, why: str) -> None:
        _say(f"spms: {why}: forcing exit")
        self._exit(FORCED_EXIT_STATUS)


def _say(message: str) -> None:
    """Write straight to stderr: logging takes locks a signal handler must not wait on."""
    try:
        os.write(sys.stderr.fileno(), (message + "\n").encode())
    except (OSError, ValueError):
        pass
