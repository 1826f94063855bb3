"""The test command really started the servers the suite relies on."""

import json
import urllib.request

import pytest


def test_influxdb_answers_ping(influx_url):
    with urllib.request.urlopen(f"{influx_url}/ping", timeout=5) as resp:
        assert resp.status == 204
        assert resp.headers["X-Influxdb-Version"].startswith("1.")


def test_influxdb_accepts_query(influx_url):
    body = urllib.request.urlopen(f"{influx_url}/query?q=SHOW+DATABASES", timeout=5).read()
    assert "results" in json.loads(body)


def test_postgresql_accepts_sql(pg_url):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("select 1 + 1")).scalar() == 2
    engine.dispose()
