"""Fixtures of the alarm tests: a small site, an injected clock, a real tag database and journal."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from twisted.internet.task import Clock

from alarms.notify.message import Message
from alarms.service import AlarmSystem
from alarms.tables import create_tables
from tagdb.database import TagDatabase
from tagdb.events import EventBus
from tagdb.site.loader import load_site
from tagdb.values import GOOD, Quality, TagValue

BASE = Path(__file__).with_name("site_fixture.yaml")
#: Monday 2026-03-02 08:00 UTC = 16:00 in Asia/Shanghai.
START = datetime(2026, 3, 2, 8, 0, 0, tzinfo=timezone.utc)
TEMP = "plant/chiller-1/supply_temp"


@pytest.fixture
def clock() -> Clock:
    """A Twisted Clock set to START."""
    c = Clock()
    c.advance(START.timestamp())
    return c


def make_site(folder: Path, alarms_yaml: str = "", extra_yaml: str = ""):
    """The base test site plus an ``alarms.yaml`` (and another file) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BASE, folder / "site.yaml")
    if alarms_yaml:
        (folder / "alarms.yaml").write_text(alarms_yaml)
    if extra_yaml:
        (folder / "extra.yaml").write_text(extra_yaml)
    return load_site(folder)


def memory_engine():
    """An in-memory SQLite engine with the alarm tables."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    create_tables(engine)
    return engine


class RecordingChannel:
    """A channel that keeps what it delivers (and can be switched off to fail)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Message] = []
        self.up = True

    async def send(self, message: Message) -> None:
        from alarms.errors import NotificationError

        if not self.up:
            raise NotificationError(f"{self.name} is down")
        self.sent.append(message)


class Harness:
    """A running alarm system on a real TagDatabase, driven by the Clock."""

    def __init__(self, site, clock: Clock, db_engine=None, channels=None) -> None:
        self.site = site
        self.clock = clock
        self.db_engine = db_engine if db_engine is not None else memory_engine()
        self.tags = TagDatabase(site.tags, clock)
        self.bus = EventBus()
        self.system = AlarmSystem(site, clock, self.db_engine, tags=self.tags, events=self.bus, channels=channels)
        self.engine = self.system.engine
        self.transitions = []
        self.engine.add_listener(self.transitions.append)

    def start(self) -> "Harness":
        self.system.start()
        self.clock.advance(0)
        return self

    def put(self, path: str, value, quality: Quality = GOOD) -> None:
        """One new value, delivered and evaluated (two turns: fan-out, then the journal flush)."""
        now = datetime.fromtimestamp(self.clock.seconds(), timezone.utc)
        self.tags.update([TagValue(path, value, quality, now, now)])
        self.clock.advance(0)
        self.clock.advance(0)

    def put_many(self, values: dict) -> None:
        now = datetime.fromtimestamp(self.clock.seconds(), timezone.utc)
        self.tags.update([TagValue(p, v, GOOD, now, now) for p, v in values.items()])
        self.clock.advance(0)
        self.clock.advance(0)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.clock.advance(0)

    def state(self, alarm_id: str) -> str:
        return self.engine.get(alarm_id).state.value

    def kinds(self, alarm_id: str) -> list[tuple[str, str]]:
        return [(t.kind.value, t.state_after.value) for t in self.transitions if t.alarm_id == alarm_id]


@pytest.fixture
def harness(tmp_path, clock):
    """Factory: ``harness(alarms_yaml, extra_yaml, db_engine=None, channels=None)``, started."""
    made = []

    def build(alarms_yaml: str = "", extra_yaml: str = "", db_engine=None, channels=None, folder=None):
        site = make_site(folder or tmp_path / f"site{len(made)}", alarms_yaml, extra_yaml)
        h = Harness(site, clock, db_engine, channels).start()
        made.append(h)
        return h

    yield build
    for h in made:
        h.system.stop()
