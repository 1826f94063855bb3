"""The PID algorithm itself: pure arithmetic, no tags, no clock.

Positional form with the integral kept in output units, so that every
transfer (Manual→Auto, forced output, cascade) is made bumpless by setting the
integral to "whatever makes the output equal to what it is now":

    e   = s · (PV − b·SP)·(−1)          s = +1 reverse, −1 direct (see below)
    P   = Kp · e
    D   = Tf/(Tf+dt) · D₋₁ − Kp·Td/(Tf+dt) · s · (PV − PV₋₁)    Tf = Td/N
    v   = P + I + D
    u   = clamp(rate_limit(clamp(v)))
    I  += Kp·dt/Ti · e_full + dt/Tt · (u − v)                    back-calculation

*Reverse* action (heating valve): the output rises when PV falls below SP.
*Direct* action (cooling valve on supply air temperature): the output rises
when PV rises above SP. Derivative acts on PV only, so a setpoint step gives no
derivative kick, and the setpoint weight ``b`` (0..1) softens the proportional
kick; the integral always acts on the full error so there is no offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PidParams:
    """Tuning and limits of one controller (times in seconds, output in its units)."""

    kp: float
    ti: float = 0.0                 # integral time; 0 = no integral action (bias held)
    td: float = 0.0                 # derivative time; 0 = no derivative action
    action: str = "reverse"         # "reverse" or "direct"
    out_min: float = 0.0
    out_max: float = 100.0
    rate_limit: float | None = None  # max output change per second (None = unlimited)
    d_filter: float = 10.0          # N: derivative filter time constant is Td/N
    tt: float | None = None         # anti-windup tracking time (default sqrt(Ti·Td) or Ti)
    sp_weight: float = 1.0          # b: proportional setpoint weight

    @property
    def sign(self) -> float:
        """+1 for reverse action (error = SP − PV), −1 for direct action."""
        return 1.0 if self.action == "reverse" else -1.0

    @property
    def tracking_time(self) -> float:
        """The back-calculation time constant actually used."""
        if self.tt is not None and self.tt > 0:
            return self.tt
        if self.ti > 0 and self.td > 0:
            return math.sqrt(self.ti * self.td)
        return self.ti if self.ti > 0 else 1.0


@dataclass(slots=True)
class PidTerms:
    """The parts of the last computed output, for display and tests."""

    p: float = 0.0
    i: float = 0.0
    d: float = 0.0
    unclamped: float = 0.0
    limited: str = ""   # "", "high", "low", "rate"


class PidController:
    """One PID controller's state; ``update`` computes, ``track`` follows an imposed output."""

    def __init__(self, params: PidParams, initial_output: float | None = None) -> None:
        self.params = params
        self.output = params.out_min if initial_output is None else _clamp(initial_output, params)
        self.integral = self.output
        self.derivative = 0.0
        self.last_pv: float | None = None
        self.last_sp: float | None = None
        self.terms = PidTerms(i=self.integral)

    def retune(self, params: PidParams) -> None:
        """Change tuning without a bump: the integral absorbs the change in P."""
        old = self.params
        if self.last_pv is not None and self.last_sp is not None:
            before = old.kp * old.sign * (old.sp_weight * self.last_sp - self.last_pv)
            after = params.kp * params.sign * (params.sp_weight * self.last_sp - self.last_pv)
            self.integral += before - after
        self.params = params
        self.output = _clamp(self.output, params)

    def update(self, pv: float, sp: float, dt: float) -> float:
        """One Auto-mode step: the new output for this PV and SP after ``dt`` seconds."""
        p = self.params
        dt = max(dt, 1e-9)
        if self.last_pv is None:
            self.last_pv = pv
        self.last_sp = sp
        prop = p.kp * p.sign * (p.sp_weight * sp - pv)
        self.derivative = self._derivative(pv, dt)
        v = prop + self.integral + self.derivative
        u = _clamp(v, p)
        limited = "high" if v > p.out_max else "low" if v < p.out_min else ""
        if p.rate_limit is not None and p.rate_limit > 0:
            step = p.rate_limit * dt
            ru = min(max(u, self.output - step), self.output + step)
            if ru != u:
                limited = "rate"
            u = _clamp(ru, p)
        if p.ti > 0:
            error = p.sign * (sp - pv)
            # Back-calculation: pull the integral toward the value that matches the
            # applied (clamped, rate-limited) output, so it cannot wind up.
            gain = min(dt / p.tracking_time, 1.0)
            self.integral += p.kp * dt / p.ti * error + gain * (u - v)
        else:
            # P/PD only: the integral is a fixed bias, but it must still follow a
            # saturated output so that leaving saturation is bumpless.
            self.integral += u - v if limited else 0.0
        self.last_pv = pv
        self.last_sp = sp
        self.output = u
        self.terms = PidTerms(prop, self.integral, self.derivative, v, limited)
        return u

    def track(self, output: float, pv: float | None, sp: float | None, dt: float = 0.0) -> None:
        """Follow an output imposed from outside (Manual, forced, cascade) without a bump.

        The integral is set so that an ``update`` with the same PV and SP would
        give exactly ``output``.
        """
        p = self.params
        self.output = output
        if pv is None or sp is None:
            self.integral = output - self.derivative
            self.terms = PidTerms(0.0, self.integral, self.derivative, output, "")
            return
        if dt > 0 and self.last_pv is not None:
            self.derivative = self._derivative(pv, dt)
        else:
            self.derivative = 0.0
        self.last_pv = pv
        self.last_sp = sp
        prop = p.kp * p.sign * (p.sp_weight * sp - pv)
        self.integral = output - prop - self.derivative
        self.terms = PidTerms(prop, self.integral, self.derivative, output, "")

    def _derivative(self, pv: float, dt: float) -> float:
        p = self.params
        if p.td <= 0:
            return 0.0
        tf = p.td / max(p.d_filter, 1e-9)
        dpv = pv - (self.last_pv if self.last_pv is not None else pv)
        return tf / (tf + dt) * self.derivative - p.kp * p.td / (tf + dt) * p.sign * dpv


def _clamp(value: float, params: PidParams) -> float:
    return min(max(value, params.out_min), params.out_max)
