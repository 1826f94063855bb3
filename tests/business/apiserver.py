"""A real service tree (tagdb, database, business, api) on loopback for the REST tests."""

from __future__ import annotations

import json

import treq
from twisted.internet import reactor

from business.identity import create_user, make_hasher, new_api_token
from business.schema import SECTION
from tagdb.server.root import Component, build_root, make_context
from tagdb.site.errors import Loc
from tagdb.site.model import SiteModel, TagSpec

from .conftest import build_world

COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("database", "business.database", lambda s: True),
              Component("business", "business.service", lambda s: True),
              Component("api", "tagdb.api.service", lambda s: True))
TAGS = (TagSpec("tower-a/elevator-1/current_floor", "int16", None, None, equipment="tower-a/elevator-1"),
        TagSpec("tower-a/elevator-1/run_hours", "float64", None, None, equipment="tower-a/elevator-1"))
HASHER = make_hasher(fast=True)


def business_section(url: str, **extra) -> dict:
    clean, errors = SECTION.check({"database": {"url": url}, "property": {"code": "hq", "name": "HQ"},
                                   **extra}, "business", Loc("test"))
    assert not errors, errors
    return clean


class Server:
    """Running tree plus helpers: ``call`` returns (status, json)."""

    def __init__(self, root) -> None:
        self.root = root
        self.ctx = root.context
        self.base = self.ctx.provides["api_url"]
        self.db = self.ctx.provides["database"]
        self.api = self.ctx.provides["business"]

    async def call(self, method: str, path: str, token: str | None = None, body=None, raw: bytes | None = None,
                   ctype: str = "application/json"):
        headers = {"Content-Type": [ctype]}
        if token:
            headers["Authorization"] = [f"Bearer {token}"]
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        resp = await treq.request(method, self.base + path, data=data, headers=headers)
        content = await resp.content()
        return resp.code, (json.loads(content) if content else None)

    def add_user(self, username: str, grants, password: str = "Passw0rd-Demo") -> str:
        """Create a user with grants; returns an API token for it."""
        now = self.api.clock()

        def work(s):
            u = create_user(s, HASHER, username=username, password=password, actor="test", now=now, grants=grants)
            return new_api_token(s, u.id, "test", now, None, "test")[0]
        return self.db.call(work)


async def start(tmp_path, url: str, equipment=(), **section) -> Server:
    site = SiteModel(name="business-test", timezone="Asia/Shanghai", files=(), buildings=(), devices={},
                     tags=TAGS, equipment=tuple(equipment),
                     sections={"business": business_section(url, **section),
                               "server": {"api": {"address": "127.0.0.1", "port": 8080}}})
    ctx = make_context(site, reactor, tmp_path)
    ctx.provides["api_port"] = 0
    root = build_root(site, reactor, tmp_path, components=COMPONENTS, context=ctx)
    await root.startService()
    return Server(root)


def world_for(server: Server) -> dict:
    return build_world(server.db, server.api.crud)
