"""Fault injection: the public API other packages' tests use to break simulated equipment.

Every method names equipment the way the site does: a device name, or a tag
path (``plant/chiller-1/supply_temp``) whose device and point are looked up in
the site. All are methods of :class:`collectors.sim.hub.SimulatorHub`
(``ctx.provides["simulators"]`` in a running server). See docs/simulators.md.
"""

from __future__ import annotations

from typing import Any

from ..errors import SimulatorError
from .elevators import FAULTS, VARIABLES

_VAR_OF_POINT = {point: var for var, (point, _, _, _) in VARIABLES.items()}


class FaultInjection:
    """Methods to stop, silence, disturb and inspect simulated devices."""

    # Provided by SimulatorHub.
    site: Any
    models: dict
    elevator_banks: dict
    server_of: dict
    unit_of: dict

    # ------------------------------------------------------------------ lookup

    def _server(self, device: str):
        try:
            return self.server_of[device]
        except KeyError:
            raise SimulatorError(f"no simulator serves device {device!r} "
                                 f"(simulated: {', '.join(sorted(self.server_of)) or 'none'})") from None

    def _point(self, tag_path: str) -> tuple[str, str]:
        """(device, point name) of a tag path: the model point at the tag's address."""
        try:
            spec = self.site.tag(tag_path)
        except KeyError:
            raise SimulatorError(f"no tag {tag_path!r} in the site") from None
        if spec.device not in self.server_of:
            raise SimulatorError(f"tag {tag_path!r} is on device {spec.device!r}, which no simulator serves")
        if spec.device in self.models:
            return spec.device, self.models[spec.device].point_at(spec.address, spec.data_type).name
        var = (spec.address or "").rsplit(".", 1)[-1]
        if var not in VARIABLES:
            raise SimulatorError(f"tag {tag_path!r}: {spec.address!r} is no simulated elevator variable")
        return spec.device, VARIABLES[var][0]

    def _car(self, equipment_or_tag: str):
        """(bank, car) of an elevator equipment id (``tower-a/elevator-1``) or one of its tags."""
        eq_id = equipment_or_tag
        eqs = {e.id: e for e in self.site.equipment}
        if eq_id not in eqs and "/" in eq_id:
            eq_id = eq_id.rsplit("/", 1)[0]
        eq = eqs.get(eq_id)
        if eq is None or eq.device not in self.elevator_banks:
            raise SimulatorError(f"{equipment_or_tag!r} is not a simulated elevator")
        bank = self.elevator_banks[eq.device]
        name = str(eq.parameters.get("car") or eq.id.replace("/", "-"))
        return bank, bank.cars[name]

    def value(self, tag_path: str) -> Any:
        """The engineering value the simulated device holds now for a tag."""
        device, point = self._point(tag_path)
        if device in self.models:
            return self.models[device].get(point)
        _, car = self._car(tag_path)
        return getattr(car.state, point)

    # ------------------------------------------------------------------ connections

    async def stop_device(self, device: str) -> None:
        """Switch off the server serving ``device`` (every unit behind that endpoint goes)."""
        await self._server(device).stop()

    async def restart_device(self, device: str) -> None:
        """Switch the server serving ``device`` back on, same port, last values kept."""
        await self._server(device).start()

    def drop_connections(self, device: str) -> None:
        """Reset the client connections of ``device``'s Modbus server (it keeps listening)."""
        server = self._server(device)
        if not hasattr(server, "drop_connections"):
            raise SimulatorError(f"{device!r} is not a Modbus device; use stop_device/restart_device")
        server.drop_connections()

    def set_exception(self, device: str, code: int | None) -> None:
        """Make a Modbus unit answer every request with exception ``code`` (2 = illegal address,
        4 = device failure, 6 = busy, 11 = gateway target failed); None answers normally again."""
        server = self._server(device)
        if not hasattr(server, "set_exception"):
            raise SimulatorError(f"{device!r} is not a Modbus device")
        server.set_exception(self.unit_of[device], code)

    def silence(self, device: str, silent: bool = True) -> None:
        """Make a Modbus unit stop answering (requests time out), or answer again."""
        server = self._server(device)
        if not hasattr(server, "set_silent"):
            raise SimulatorError(f"{device!r} is not a Modbus device")
        server.set_silent(self.unit_of[device], silent)

    # ------------------------------------------------------------------ values

    def freeze(self, tag_path: str, value: Any = None) -> None:
        """Stop the physics updating a tag's point (a stuck sensor), optionally at ``value``."""
        device, point = self._point(tag_path)
        if device in self.models:
            self.models[device].freeze(point, value)
            return
        bank, car = self._car(tag_path)
        key = f"{car.name}.{_VAR_OF_POINT[point]}"
        if value is not None:
            setattr(car.state, point, value)
            bank.server._last.pop(key, None)
        bank.server.frozen.add(key)

    def unfreeze(self, tag_path: str) -> None:
        """Let the physics update the point again."""
        device, point = self._point(tag_path)
        if device in self.models:
            self.models[device].unfreeze(point)
            return
        bank, car = self._car(tag_path)
        bank.server.frozen.discard(f"{car.name}.{_VAR_OF_POINT[point]}")

    def set_value(self, tag_path: str, value: Any) -> None:
        """Force a point's value once (the physics may move it again on the next step)."""
        device, point = self._point(tag_path)
        if device in self.models:
            self.models[device].set(point, value, force=True)
            return
        _, car = self._car(tag_path)
        setattr(car.state, point, value)

    async def set_status(self, tag_path: str, status: int) -> None:
        """Make an elevator (OPC UA) variable report status code ``status`` with its last value,
        e.g. 0x808C0000 (BadSensorFailure); the collector keeps it as the tag's quality. The
        next change of the value publishes Good again (freeze the tag to keep it Bad)."""
        device, point = self._point(tag_path)
        if device in self.models:
            raise SimulatorError(f"{tag_path!r} is a Modbus tag: use set_exception for Modbus devices")
        bank, car = self._car(tag_path)
        await bank.server.set_status(f"{car.name}.{_VAR_OF_POINT[point]}", status)

    def fail_equipment(self, device: str, failed: bool = True) -> None:
        """Trip a chiller/AHU/meter (it stops and raises its alarm), or reset it."""
        if device not in self.models:
            raise SimulatorError(f"{device!r} is not simulated Modbus equipment")
        self.models[device].failed = failed

    # ------------------------------------------------------------------ elevators

    def inject_elevator_fault(self, elevator: str, fault: str) -> None:
        """Inject ``fault`` (door, overload, entrapment, safety; 'none' clears) into an elevator.

        ``elevator`` is the equipment id (``tower-a/elevator-1``) or one of its tag paths.
        Entrapment stops the car between floors with the door closed; the emergency
        call is pressed 20 simulated seconds later.
        """
        if fault not in FAULTS:
            raise SimulatorError(f"unknown elevator fault {fault!r} (known: {', '.join(FAULTS)})")
        _, car = self._car(elevator)
        car.inject(fault)

    def clear_elevator_fault(self, elevator: str) -> None:
        """Clear an injected elevator fault."""
        self.inject_elevator_fault(elevator, "none")
