"""``/api/v1/health``: is the server up, how long, how many tags, each component's state."""

from __future__ import annotations

from typing import Any

from .http import JsonResource


def health_report(ctx: Any) -> tuple[int, dict]:
    """(HTTP status, body): 200 when every component runs, 503 otherwise."""
    root = ctx.provides.get("root")
    components = root.component_health() if root is not None else {}
    states = {info.get("state") for info in components.values()}
    if not components or states == {"running"}:
        status = "ok"
    elif "failed" in states:
        status = "degraded"
    elif states & {"starting", "stopped"} and root is not None and root.started_at is None:
        status = "starting"
    else:
        status = "stopping" if "stopping" in states else "degraded"
    body = {
        "status": status,
        "site": ctx.site.name,
        "uptime_s": round(root.uptime(), 3) if root is not None else 0.0,
        "tag_count": len(ctx.tags) if ctx.tags is not None else 0,
        "components": components,
    }
    return (200 if status == "ok" else 503), body


class HealthResource(JsonResource):
    """``GET /health`` (no authentication: it reveals no tag values)."""

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx

    async def on_get(self, request):
        """The health report."""
        return health_report(self.ctx)
