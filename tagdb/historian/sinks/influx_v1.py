"""InfluxDB through its 1.x HTTP API: ``/write`` (line protocol) and ``/query`` (InfluxQL).

The same API is InfluxDB 2.x's and 3.x's compatibility API (with a token and a
DBRP mapping), so this sink works against every version. HTTP runs on the
reactor through treq with a persistent connection pool: nothing blocks.
"""

from __future__ import annotations

import gzip as gzip_mod
import json
import logging
from typing import Any, Sequence

from twisted.internet.defer import CancelledError
from twisted.web.client import Agent, HTTPConnectionPool
from treq.client import HTTPClient

from ..errors import QueryError, QueryUnavailable, SinkAuthError, SinkRejected, SinkUnavailable
from ..points import PointSchema
from .influx_query import InfluxQueries

log = logging.getLogger("spms.historian.influx")


class InfluxV1Sink(InfluxQueries):
    """Writes line protocol to ``/write`` and answers history queries with InfluxQL."""

    def __init__(self, name: str, url: str, database: str, *, reactor: Any, schema: PointSchema,
                 precision: str = "u", gzip: bool = True, timeout: float = 10.0,
                 username: str | None = None, password: str | None = None, token: str | None = None,
                 retention_policy: str | None = None, create_database: bool = True) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.database = database
        self.reactor = reactor
        self.schema = schema
        self.precision = precision
        self.gzip = gzip
        self.timeout = timeout
        self.retention_policy = retention_policy
        self.create_database = create_database
        self._auth_params = {"u": username, "p": password} if username else {}
        self._headers = {"Authorization": [f"Token {token}"]} if token else {}
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = 4
        self._http = HTTPClient(Agent(reactor, pool=self._pool))
        self._db_ready = False

    async def close(self) -> None:
        """Close pooled connections."""
        await self._pool.closeCachedConnections()

    # -- writes ----------------------------------------------------------------------------------

    async def write_points(self, rows: Sequence[tuple]) -> None:
        """POST the rows as line protocol; 204 is the acknowledgement."""
        body = "\n".join(self.schema.encode(rows, self.precision)).encode()
        await self.write_body(body)

    async def write_body(self, body: bytes) -> None:
        """POST an already encoded line-protocol body (the benchmark's raw loop uses it too)."""
        if self.create_database and not self._db_ready:
            await self.ensure_database()
        headers = dict(self._headers)
        if self.gzip:
            body = gzip_mod.compress(body, compresslevel=1)
            headers["Content-Encoding"] = ["gzip"]
        params = {"db": self.database, "precision": self.precision, **self._auth_params}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        try:
            resp = await self._http.post(f"{self.url}/write", data=body, params=params, headers=headers,
                                         reactor=self.reactor, timeout=self.timeout)
            text = await resp.text("utf-8")
        except CancelledError:
            raise
        except Exception as exc:
            raise SinkUnavailable(f"{self.url}/write: {type(exc).__name__}: {exc}") from exc
        _raise_for_status(resp.code, text, f"{self.url}/write")

    async def ensure_database(self) -> None:
        """``CREATE DATABASE`` (idempotent in InfluxDB) once per sink."""
        await self._query(f'CREATE DATABASE "{self.database}"', method="POST")
        self._db_ready = True

    # -- queries ---------------------------------------------------------------------------------

    async def _query(self, q: str, method: str = "GET") -> list[dict]:
        """Run InfluxQL; returns the ``results`` list (errors raise QueryError/QueryUnavailable)."""
        params = {"db": self.database, "q": q, "epoch": "ns", **self._auth_params}
        try:
            resp = await self._http.request(method, f"{self.url}/query", params=params, headers=self._headers,
                                            reactor=self.reactor, timeout=self.timeout)
            text = await resp.text("utf-8")
        except CancelledError:
            raise
        except Exception as exc:
            raise QueryUnavailable(f"{self.url}/query: {type(exc).__name__}: {exc}") from exc
        if resp.code >= 500 or resp.code in (401, 403):
            raise QueryUnavailable(f"{self.url}/query answered {resp.code}: {text[:300]}")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise QueryUnavailable(f"{self.url}/query answered non-JSON {resp.code}: {text[:200]}") from exc
        if resp.code >= 400 or "error" in data:
            raise QueryError(f"InfluxDB refused the query: {data.get('error', text[:300])}")
        results = data.get("results", [])
        for r in results:
            if "error" in r:
                raise QueryError(f"InfluxDB query error: {r['error']}")
        return results

    async def influxql(self, q: str) -> list[dict]:
        """Run one InfluxQL statement and return its series (used by the Grafana query checks)."""
        results = await self._query(q)
        return results[0].get("series", []) if results else []


def _raise_for_status(code: int, text: str, where: str) -> None:
    if code in (200, 204):
        return
    msg = f"{where} answered {code}: {text.strip()[:500]}"
    if code in (400, 413, 422):
        raise SinkRejected(msg)
    if code in (401, 403):
        raise SinkAuthError(msg)
    raise SinkUnavailable(msg)

