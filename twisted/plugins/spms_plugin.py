"""Twisted plugin: ``twist spms --site SITE`` (see ``tagdb.server.plugin``).

Deliberately tiny: Twisted imports every plugin file while scanning, and
nothing here may import the reactor before the asyncio reactor is installed.
The real module is imported only when ``twist spms`` is used.
"""

from twisted.application.service import ServiceMaker

spms = ServiceMaker(
    "spms",
    "tagdb.server.plugin",
    "spms smart property management: run a site (tag server, collectors, historian, alarms, HMI, business)",
    "spms",
)
