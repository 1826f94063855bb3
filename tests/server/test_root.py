"""The service tree: build order, sequential start, reverse stop, failures, opt-outs, bounded stop."""

from __future__ import annotations

import sys
import types

import pytest
from twisted.application.service import Service
from twisted.internet import task
from twisted.internet.defer import Deferred, fail

from tagdb.server import root as rootmod
from tagdb.server.errors import ComponentBuildError, ComponentStartError
from tagdb.server.root import COMPONENTS, Component, build_root
from tagdb.site.model import SiteModel

ORDER = ["tagdb", "database", "historian", "alarms", "control", "simulators", "collectors", "hmi",
         "business", "api"]
SECTIONS = {"business": {}, "historian": {}, "alarms": {}, "control": {}, "simulators": {}, "hmi": {},
            "server": {}}


def make_site(sections=None, devices=None) -> SiteModel:
    return SiteModel(name="test", timezone="UTC", files=(), buildings=(), devices=devices or {},
                     tags=(), equipment=(), sections=dict(SECTIONS if sections is None else sections))


class Recorder:
    """Shared journal of what the fake children did, with per-child behaviour."""

    def __init__(self, clock: task.Clock) -> None:
        self.clock = clock
        self.events: list[tuple[str, str]] = []
        self.start_delay: dict[str, float] = {}
        self.start_error: dict[str, Exception] = {}
        self.start_fails_async: set[str] = set()
        self.start_hangs: set[str] = set()
        self.stop_hangs: set[str] = set()
        self.built: list[str] = []

    def service(self, name: str) -> Service:
        rec = self

        class Child(Service):
            def startService(self):
                super().startService()
                rec.events.append(("start", name))
                if name in rec.start_error:
                    raise rec.start_error[name]
                if name in rec.start_fails_async:
                    return fail(RuntimeError(f"{name} could not open its store"))
                if name in rec.start_hangs:
                    return Deferred()
                delay = rec.start_delay.get(name)
                if delay:
                    d = Deferred()
                    rec.clock.callLater(delay, lambda: (rec.events.append(("started", name)), d.callback(None)))
                    return d
                rec.events.append(("started", name))
                return None

            def stopService(self):
                super().stopService()
                rec.events.append(("stop", name))
                return Deferred() if name in rec.stop_hangs else None

        return Child()

    def module(self, name: str, opt_out: bool = False) -> types.ModuleType:
        mod = types.ModuleType(f"fake_{name}")

        def from_config(ctx):
            self.built.append(name)
            return None if opt_out else self.service(name)

        mod.from_config = from_config
        return mod


@pytest.fixture
def clock():
    return task.Clock()


@pytest.fixture
def rec(clock, monkeypatch):
    """Every real component module replaced by a recording fake."""
    recorder = Recorder(clock)
    for comp in COMPONENTS:
        monkeypatch.setitem(sys.modules, comp.module, recorder.module(comp.name))
    return recorder


def started(events):
    return [n for e, n in events if e == "start"]


def stopped(events):
    return [n for e, n in events if e == "stop"]


def test_factories_are_called_and_children_started_in_dependency_order(rec, clock, tmp_path):
    rec.start_delay = {"tagdb": 1.0, "historian": 2.0}
    root = build_root(make_site(), clock, tmp_path / "data")
    assert rec.built == ORDER
    assert [c.name for c in root] == ORDER
    d = root.startService()
    # A child starts only after the previous one's start Deferred fired.
    assert rec.events == [("start", "tagdb")]
    clock.advance(1.0)
    assert started(rec.events) == ["tagdb", "database", "historian"]
    clock.advance(2.0)
    assert started(rec.events) == ORDER
    assert d.called and d.result is None
    assert all(state == "running" for state in root.states.values())
    assert (tmp_path / "data").is_dir()
    root.stopService()
    assert stopped(rec.events) == list(reversed(ORDER))
    assert all(state == "stopped" for state in root.states.values())


def test_child_raising_stops_startup_and_started_children_in_reverse(rec, clock, tmp_path):
    rec.start_error = {"alarms": RuntimeError("bad rule file")}
    root = build_root(make_site(), clock, tmp_path)
    d = root.startService()
    failures = []
    d.addErrback(failures.append)
    (failure,) = failures
    assert isinstance(failure.value, ComponentStartError)
    assert failure.value.component == "alarms"
    assert "alarms" in str(failure.value) and "bad rule file" in str(failure.value)
    assert started(rec.events) == ["tagdb", "database", "historian", "alarms"]
    assert stopped(rec.events) == ["historian", "database", "tagdb"]
    assert root.states["alarms"] == "failed" and root.states["control"] == "stopped"
    assert not root.running


def test_child_failing_deferred_names_it(rec, clock, tmp_path):
    rec.start_fails_async = {"collectors"}
    root = build_root(make_site(), clock, tmp_path)
    failures = []
    root.startService().addErrback(failures.append)
    assert failures[0].value.component == "collectors"
    assert "could not open its store" in failures[0].value.reason
    assert stopped(rec.events) == ["simulators", "control", "alarms", "historian", "database", "tagdb"]


def test_child_that_never_finishes_starting_times_out(rec, clock, tmp_path):
    rec.start_hangs = {"hmi"}
    root = build_root(make_site(), clock, tmp_path, start_timeout=30)
    failures = []
    root.startService().addErrback(failures.append)
    clock.advance(29)
    assert not failures
    clock.advance(1)
    assert failures[0].value.component == "hmi"
    assert "did not start within 30 s" in failures[0].value.reason
    assert "hmi" not in stopped(rec.events) and stopped(rec.events)[0] == "collectors"


def test_stop_is_bounded_per_child(rec, clock, tmp_path):
    rec.stop_hangs = {"hmi", "alarms"}
    root = build_root(make_site(), clock, tmp_path, stop_timeout=10)
    root.startService()
    done = []
    root.stopService().addCallback(done.append)
    assert stopped(rec.events) == ["api", "business", "hmi"]
    clock.advance(10)
    assert stopped(rec.events)[-1] == "alarms"
    assert not done
    clock.advance(10)
    assert stopped(rec.events) == list(reversed(ORDER))
    assert done == [None]
    assert root.states["hmi"] == "failed" and root.states["tagdb"] == "stopped"
    # Stopping again is harmless and stops nothing twice.
    root.stopService()
    assert stopped(rec.events) == list(reversed(ORDER))


def test_stop_during_startup_stops_the_child_being_started(rec, clock, tmp_path):
    rec.start_delay = {"historian": 5.0}
    root = build_root(make_site(), clock, tmp_path)
    start = root.startService()
    done = []
    root.stopService().addCallback(done.append)
    assert not done  # waits for historian to finish starting
    clock.advance(5.0)
    assert started(rec.events) == ["tagdb", "database", "historian"]
    assert stopped(rec.events) == ["historian", "database", "tagdb"]
    assert done == [None] and start.called


def test_opt_out_and_missing_modules(rec, clock, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "control.service", rec.module("control", opt_out=True))
    monkeypatch.delitem(sys.modules, "hmi.service")
    monkeypatch.setattr(rootmod, "COMPONENTS", tuple(
        Component(c.name, "hmi.service_that_does_not_exist" if c.name == "hmi" else c.module, c.needed)
        for c in COMPONENTS))
    site = make_site({k: v for k, v in SECTIONS.items() if k != "hmi"})
    root = build_root(site, clock, tmp_path)
    assert [c.name for c in root] == [n for n in ORDER if n not in ("control", "hmi")]
    assert "control" in rec.built  # the factory ran and opted out


def test_missing_module_of_a_configured_section_is_an_error(rec, clock, tmp_path):
    comps = [Component("tagdb", "tagdb.service", lambda s: True),
             Component("alarms", "spms_no_such_module.service", lambda s: True)]
    with pytest.raises(ComponentBuildError, match="'alarms'.*spms_no_such_module.service is not installed"):
        build_root(make_site(), clock, tmp_path, components=comps)


def test_failing_factory_is_named(rec, clock, tmp_path, monkeypatch):
    broken = types.ModuleType("broken")

    def from_config(ctx):
        raise ValueError("no such sink 'influx9'")

    broken.from_config = from_config
    monkeypatch.setitem(sys.modules, "tagdb.historian.service", broken)
    with pytest.raises(ComponentBuildError, match="'historian'.*no such sink 'influx9'"):
        build_root(make_site(), clock, tmp_path)


def test_health_reports_component_states(rec, clock, tmp_path):
    root = build_root(make_site(), clock, tmp_path)
    root.startService()
    clock.advance(42)
    health = root.component_health()
    assert list(health) == ORDER
    assert health["api"] == {"state": "running"}
    assert root.uptime() == 42
