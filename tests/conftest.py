"""Shared fixtures: the real servers started by scripts/test, and a fresh data folder.

scripts/test exports SPMS_REQUIRE_SERVICES=1; then a missing server is a test
failure, never a silent skip. Run bare pytest on a workstation and such tests skip.
"""

from __future__ import annotations

import os

import pytest

REQUIRED = os.environ.get("SPMS_REQUIRE_SERVICES") == "1"


def _service(var: str, what: str) -> str:
    url = os.environ.get(var)
    if not url:
        if REQUIRED:
            pytest.fail(f"{var} is not set although scripts/test should have started {what}")
        pytest.skip(f"{what} not available: run the suite with scripts/test")
    return url


@pytest.fixture(scope="session")
def influx_url() -> str:
    """Base URL of the real InfluxDB 1.x server (e.g. http://127.0.0.1:18086)."""
    return _service("SPMS_TEST_INFLUX_URL", "InfluxDB")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of the real PostgreSQL server (database 'postgres', superuser 'spms')."""
    return _service("SPMS_TEST_PG_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's chromium binary."""
    return _service("SPMS_TEST_CHROMIUM", "chromium")
