"""Helper process for the signal tests: a component that never finishes stopping.

Run as ``python hanging_server.py DATA_DIR [slow-build]``; not a test module.
With ``slow-build`` the component's factory announces itself on stdout and then
takes 3 s, so a signal can be sent while the tree is being built.
"""

import sys
import time
import types

from twisted.application.service import Service
from twisted.internet.defer import Deferred

from tagdb.server import root
from tagdb.server.reactor import install_asyncio_reactor
from tagdb.site.model import SiteModel

install_asyncio_reactor()

from tagdb.cli.main import setup_logging  # noqa: E402

setup_logging("INFO")


class Stuck(Service):
    """Starts, then never finishes stopping (a wedged device connection)."""

    def stopService(self):
        super().stopService()
        return Deferred()


def from_config(ctx):
    if sys.argv[2:] == ["slow-build"]:
        print("building stuck", flush=True)
        time.sleep(3)  # a slow factory (a migration, say): the signal arrives meanwhile
    return Stuck()


module = types.ModuleType("spms_test_stuck")
module.from_config = from_config
sys.modules["spms_test_stuck"] = module
# Only the tag server's own components around the stuck one: this process tests signal
# handling, not the other packages (whose start-up the `spms run` tests cover).
by_name = {c.name: c for c in root.COMPONENTS}
root.COMPONENTS = (by_name["tagdb"], root.Component("stuck", "spms_test_stuck", lambda s: True), by_name["api"])

from tagdb.server.runner import run_site  # noqa: E402

site = SiteModel(name="stuck", timezone="UTC", files=(), buildings=(), devices={}, tags=(), equipment=(),
                 sections={"server": {"api": {"address": "127.0.0.1", "port": 8080, "tokens": {}}}})
sys.exit(run_site(site, sys.argv[1], api_port=0, stop_timeout=600))
