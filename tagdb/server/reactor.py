"""The one place that installs Twisted's asyncio reactor.

Twisted, asyncua, pymodbus and Panel must share a single asyncio event loop.
The reactor has to be installed *before* anything imports
``twisted.internet.reactor`` (treq, klein and many Twisted modules do so at
import time), otherwise Twisted installs its default reactor and the install
fails with ``ReactorAlreadyInstalledError``. The CLI and the Twisted plugin
call :func:`install_asyncio_reactor` first thing, before importing the
component packages.
"""

from __future__ import annotations

import asyncio
import sys


class ReactorError(RuntimeError):
    """A reactor other than the asyncio reactor is already installed."""


def install_asyncio_reactor():
    """Install the asyncio reactor on a fresh event loop (idempotent) and return it.

    When the asyncio reactor is already installed (``twist --reactor=asyncio``,
    or pytest with ``--reactor=asyncio``) it is returned unchanged. Any other
    installed reactor is an error: mixing loops would silently stall asyncua,
    pymodbus and Panel.
    """
    from twisted.internet import asyncioreactor

    if "twisted.internet.reactor" in sys.modules:
        reactor = sys.modules["twisted.internet.reactor"]
        if isinstance(reactor, asyncioreactor.AsyncioSelectorReactor):
            return reactor
        raise ReactorError(
            f"the {type(reactor).__module__}.{type(reactor).__name__} reactor is already installed; "
            "spms needs the asyncio reactor (with twist: `twist --reactor=asyncio spms ...`)")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    from twisted.internet import reactor

    return reactor
