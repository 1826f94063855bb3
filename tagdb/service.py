"""The ``tagdb`` component: builds the live tag database from the site and runs system tags."""

from __future__ import annotations

from pathlib import Path

from .audit import JsonlAuditSink
from .database import TagDatabase
from .system_tags import SystemTags, SystemTagsService

SYSTEM_REFRESH_S = 1.0


def from_config(ctx) -> SystemTagsService:
    """Create the TagDatabase of ``ctx.site.tags`` as ``ctx.tags`` and its ``tagdb`` service.

    Write audits go to ``<data_dir>/audit/writes.jsonl``. The SystemTags helper
    is published as ``ctx.provides["system_tags"]`` (collectors report device
    health through it, other components their own ``_system/<name>/`` tags)
    and the audit sink as ``ctx.provides["write_audit"]``.
    """
    audit = JsonlAuditSink(Path(ctx.data_dir) / "audit" / "writes.jsonl", clock=ctx.reactor)
    db = TagDatabase(ctx.site.tags, ctx.reactor, audit=audit)
    ctx.tags = db
    system = SystemTags(db, ctx.reactor)
    system.declare_devices(ctx.site.devices)
    ctx.provides["system_tags"] = system
    ctx.provides["write_audit"] = audit
    service = SystemTagsService(system, ctx.reactor, SYSTEM_REFRESH_S)
    service.closers.append(audit.close)
    return service
