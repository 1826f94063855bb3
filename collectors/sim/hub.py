"""The simulators of a site: built from its ``simulators:`` section, devices and equipment.

Everything a simulator needs comes from the site itself: the endpoint and unit id
of each served device, the equipment instantiated on it (its parameters, e.g. a
meter's ``profile``), the building (an elevator's floors). Physics steps on a
``LoopingCall`` of the injected clock. Fault injection is in
:class:`collectors.sim.faults.FaultInjection`, which the hub inherits.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from twisted.internet.task import LoopingCall

from ..endpoints import port_offset, split_endpoint
from ..modbus.codec import parse_address
from ..schema import served_devices
from .clock import SimClock, seeded
from .elevators import VARIABLES, Car
from .faults import FaultInjection
from .hvac import AirHandler, Chiller
from .lighting import LightingPanel
from .meters import Meter
from .modbus_server import ModbusSimServer
from .opcua_server import OpcUaSimServer
from .parking import CarPark
from .points import ModbusModel

log = logging.getLogger(__name__)

MODELS = {"chillers": Chiller, "ahus": AirHandler, "lighting": LightingPanel, "parking": CarPark, "meters": Meter}
ELEVATOR_NS = "urn:spms:sim:elevators"
DEFAULT_SECTION = {"enabled": True, "seed": 1, "time_scale": 1.0, "step": 1.0, "start_hour": None,
                   "port_offset": 0, "instances": {}}


class ElevatorBank:
    """The cars of one OPC UA elevator server."""

    def __init__(self, server: OpcUaSimServer, cars: dict[str, Car]) -> None:
        self.server = server
        self.cars = cars
        self._publishing: asyncio.Future | None = None

    def step(self, dt: float, hour: float, source_ts) -> None:
        """Pick up client writes, advance the cars, publish changes (one publish at a time)."""
        if self._publishing is not None and not self._publishing.done():
            return
        for name, car in self.cars.items():
            in_service = self.server.read(f"{name}.InService")
            if in_service is not None and bool(in_service) != car.state.in_service:
                car.state.in_service = bool(in_service)
                if not in_service:
                    car.targets.clear()
            call = self.server.read(f"{name}.CallFloor")
            if call:
                car.state.call_floor = int(call)
            car.step(dt, hour)
        values = {f"{name}.{var}": v for name, car in self.cars.items() for var, v in car.values().items()}
        self._publishing = asyncio.ensure_future(self.server.publish(values, source_ts))


class SimulatorHub(FaultInjection):
    """Runs every simulator of a site; also the fault-injection API (see docs/simulators.md)."""

    def __init__(self, site, clock: Any, data_dir: Path | str = "var", section: dict | None = None) -> None:
        self.site = site
        self.clock = clock
        self._own_section = section is None
        self.section = {**DEFAULT_SECTION, **(section if section is not None else (site.section("simulators") or {}))}
        self.data_dir = Path(data_dir)
        self.simclock = SimClock(clock, float(self.section["time_scale"]), site.timezone or "UTC",
                                 self.section.get("start_hour"))
        self.modbus_servers: dict[str, ModbusSimServer] = {}     # instance name → server
        self.models: dict[str, ModbusModel] = {}                 # device name → model
        self.elevator_banks: dict[str, ElevatorBank] = {}        # device name → bank
        self.server_of: dict[str, Any] = {}                      # device name → its server
        self.unit_of: dict[str, int] = {}
        self._loop: LoopingCall | None = None
        self._last = clock.seconds()
        self.steps = 0
        self._build()

    # ------------------------------------------------------------------ building

    def _equipment_of(self, device: str) -> list:
        return [e for e in self.site.equipment if e.device == device]

    def _build(self) -> None:
        seed = int(self.section["seed"])
        offset = port_offset(self.site) if self._own_section else int(self.section.get("port_offset") or 0)
        for name, inst in (self.section.get("instances") or {}).items():
            if not inst.get("enabled", True):
                continue
            devices = served_devices(self.site, inst)
            if not devices:
                continue
            default = 4840 if inst["kind"] == "elevators" else 502
            host, port = split_endpoint(devices[0].endpoint, default)
            if inst["kind"] == "elevators":
                self._build_elevators(name, inst, devices, host, port + offset, seed)
                continue
            units = {}
            for dev in devices:
                params = dict(inst.get("params") or {})
                eqs = self._equipment_of(dev.name)
                if len(eqs) == 1:
                    params.update(eqs[0].parameters)
                params.update(self._derived_params(inst["kind"], dev.name))
                model = MODELS[inst["kind"]](dev.name, seeded(seed, dev.name), params)
                self.models[dev.name] = model
                self.unit_of[dev.name] = dev.unit_id
                units[dev.unit_id] = model.bank
            server = ModbusSimServer(host, port + offset, units, name=name)
            self.modbus_servers[name] = server
            for dev in devices:
                self.server_of[dev.name] = server

    def _derived_params(self, kind: str, device: str) -> dict:
        tags = [t for t in self.site.tags if t.device == device and t.address]
        if kind == "lighting":
            coils = [parse_address(t.address, t.data_type).offset for t in tags if t.address.startswith(("co:", "di:"))]
            return {"circuits": max(coils)} if coils else {}
        if kind == "parking":
            spaces = [t for t in tags if t.path.rsplit("/", 1)[-1] == "occupied" and t.address.startswith("di:")]
            return {"spaces": max(parse_address(t.address, "bool").offset for t in spaces)} if spaces else {}
        return {}

    def _build_elevators(self, name: str, inst: dict, devices: list, host: str, port: int, seed: int) -> None:
        buildings = {b.id: b for b in self.site.buildings}
        first = devices[0]
        path = "/" + first.endpoint.split("/", 3)[3] if first.endpoint.count("/") >= 3 else "/"
        ns = (first.options or {}).get("namespace_uri") or ELEVATOR_NS
        # One server per instance (its devices share the endpoint); each device's cars on it.
        server = OpcUaSimServer(host, port, ns, path=path, cert_dir=self.data_dir / "sim-certs",
                                users=inst.get("users") or {}, anonymous=inst.get("anonymous", True),
                                security=inst.get("security", True), name=name)
        for dev in devices:
            cars: dict[str, Car] = {}
            for eq in self._equipment_of(dev.name):
                car_name = str(eq.parameters.get("car") or eq.id.replace("/", "-"))
                b = buildings.get(eq.building)
                lowest, highest = (-b.basement_floors, b.floors) if b else (0, 10)
                car = Car(car_name, lowest, highest, seeded(seed, car_name),
                          busy=float(eq.parameters.get("busy", 1.0) or 1.0))
                cars[car_name] = car
                for var, (_, dtype, writable, _) in VARIABLES.items():
                    server.add_variable("Elevators", car_name, var, dtype, car.values()[var], writable)
            self.elevator_banks[dev.name] = ElevatorBank(server, cars)
            self.server_of[dev.name] = server

    # ------------------------------------------------------------------ running

    @property
    def servers(self) -> list:
        """Every protocol server (Modbus and OPC UA), each once."""
        out = list(self.modbus_servers.values())
        for b in self.elevator_banks.values():
            if all(b.server is not s for s in out):
                out.append(b.server)
        return out

    async def start(self) -> None:
        """Start every server, then the physics loop."""
        for server in self.servers:
            await server.start()
        self._last = self.clock.seconds()
        self.step()
        self._loop = LoopingCall(self.step)
        self._loop.clock = self.clock
        self._loop.start(float(self.section["step"]), now=False)
        log.info("simulators: %d Modbus servers (%d units), %d OPC UA servers (%d cars)",
                 len(self.modbus_servers), len(self.models), len(self.elevator_banks),
                 sum(len(b.cars) for b in self.elevator_banks.values()))

    async def stop(self) -> None:
        """Stop the physics and every server."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        for server in self.servers:
            await server.stop()

    def step(self) -> None:
        """Advance every model by the simulated time elapsed since the last step."""
        now = self.clock.seconds()
        dt = max(0.0, now - self._last) * self.simclock.time_scale
        self._last = now
        hour = self.simclock.hour()
        for model in self.models.values():
            model.step(dt, hour)
        if self.elevator_banks:
            from datetime import datetime, timezone

            ts = datetime.fromtimestamp(now, tz=timezone.utc)
            for bank in self.elevator_banks.values():
                bank.step(dt, hour, ts)
        self.steps += 1
