"""What every component factory receives: the site, the clock and the shared pieces.

Each package exposes ``from_config(ctx: ServerContext) -> IService | None`` in its
``service.py``; returning None opts out cleanly (e.g. no ``historian:`` section).
Factories may publish objects for later components in ``ctx.provides`` (the
historian publishes its query API, the business layer its database), which is
why children are built and started in dependency order.

Well-known ``provides`` keys set by the server itself: ``"root"`` (the
RootService, for health), ``"api_url"`` (set by the API when it listens),
``"api_port"`` (a port override from ``--api-port``). The HMI sets
``"hmi_url"`` so that ``spms run``/``spms demo`` print it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..auth import Authenticator, TokenAuthenticator
from ..events import EventBus
from ..site.model import SiteModel


#: Paths under /api/v1 served by the tag server itself (tagdb/api/routes.py).
RESERVED_API_NAMES = frozenset({"health", "tags", "openapi.json"})


@dataclass
class ServerContext:
    """Shared state handed to component factories.

    ``reactor`` is injected (a real reactor, or ``twisted.internet.task.Clock`` plus
    a memory reactor in tests); nothing below the composition root imports the
    global reactor.
    """

    site: SiteModel
    reactor: Any
    data_dir: Path
    tags: Any = None                       # tagdb.database.TagDatabase, set by the tagdb component
    events: EventBus = field(default_factory=EventBus)
    auth: Authenticator = field(default_factory=TokenAuthenticator)
    api_routes: dict[str, Any] = field(default_factory=dict)   # "/api/v1/<name>" mount -> twisted.web resource
    provides: dict[str, Any] = field(default_factory=dict)     # named objects shared between components
    api_operations: list[Any] = field(default_factory=list)   # tagdb.api.openapi.Operation, for openapi.json

    def mount_api(self, name: str, resource: Any, operations: Iterable[Any] = ()) -> None:
        """Serve ``resource`` at ``/api/v1/<name>``; a name may be mounted once.

        ``operations`` (:class:`tagdb.api.openapi.Operation`, paths relative to
        ``/api/v1`` and starting with ``/<name>``) document the resource in
        ``/api/v1/openapi.json``.
        """
        if name in self.api_routes or name in RESERVED_API_NAMES:
            raise ValueError(f"API path /api/v1/{name} is already mounted")
        operations = list(operations)
        for op in operations:
            if op.path != f"/{name}" and not op.path.startswith(f"/{name}/"):
                raise ValueError(f"operation {op.method} {op.path} is not under the mount /{name}")
        self.api_routes[name] = resource
        self.api_operations.extend(operations)
