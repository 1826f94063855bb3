"""The PID algorithm alone: action, limits, anti-windup, bumpless transfer, derivative on PV."""

from __future__ import annotations

import pytest

from control.pid import PidController, PidParams


def plant_run(pid: PidController, sp: float, steps: int, pv: float = 20.0, gain: float = 0.1,
              tau: float = 30.0, dt: float = 1.0, bias: float = 0.0, record=None) -> float:
    """Drive a first-order heating plant (PV rises with output) and return the final PV."""
    for _ in range(steps):
        out = pid.update(pv, sp, dt)
        target = 15.0 + gain * out + bias
        pv += (target - pv) * dt / tau
        if record is not None:
            record.append((pv, out))
    return pv


def test_reverse_action_raises_output_when_pv_below_sp():
    pid = PidController(PidParams(kp=2.0, ti=60.0, action="reverse"), initial_output=50.0)
    pid.track(50.0, 20.0, 20.0)
    assert pid.update(18.0, 20.0, 1.0) > 50.0


def test_direct_action_raises_output_when_pv_above_sp():
    pid = PidController(PidParams(kp=2.0, ti=60.0, action="direct"), initial_output=50.0)
    pid.track(50.0, 20.0, 20.0)
    assert pid.update(22.0, 20.0, 1.0) > 50.0


def test_closed_loop_reaches_setpoint_without_offset():
    pid = PidController(PidParams(kp=8.0, ti=40.0, action="reverse"))
    pv = plant_run(pid, 21.0, 600)
    assert pv == pytest.approx(21.0, abs=0.05)


def test_output_limits_and_rate_limit():
    pid = PidController(PidParams(kp=100.0, ti=10.0, out_min=0, out_max=80, rate_limit=2.0), 0.0)
    pid.track(0.0, 10.0, 10.0)
    outs = [pid.update(10.0, 30.0, 1.0) for _ in range(60)]
    assert max(outs) == 80.0
    steps = [b - a for a, b in zip([0.0] + outs, outs)]
    assert max(steps) <= 2.0 + 1e-9     # never faster than the rate limit
    assert pid.terms.limited in ("high", "rate")


def test_anti_windup_recovers_quickly_after_saturation():
    # Saturate for a long time with an unreachable setpoint, then ask for one the plant can reach.
    params = PidParams(kp=4.0, ti=20.0, out_min=0, out_max=100)
    pid = PidController(params)
    pv = plant_run(pid, 40.0, 600)               # plant max is 15 + 0.1*100 = 25 °C
    assert pid.output == 100.0
    # The integral stays near the limit instead of winding up to thousands.
    assert pid.integral < 100.0 + params.kp * (40.0 - 25.0) + 1.0
    trace: list = []
    plant_run(pid, 20.0, 300, pv=pv, record=trace)
    # Output leaves saturation within a few seconds of the setpoint change.
    first_below = next(i for i, (_, out) in enumerate(trace) if out < 100.0)
    assert first_below <= 3
    assert trace[-1][0] == pytest.approx(20.0, abs=0.1)


def test_bumpless_manual_to_auto():
    pid = PidController(PidParams(kp=5.0, ti=30.0, td=2.0))
    # Manual at 37 % for a while with PV away from SP: the controller tracks.
    for _ in range(20):
        pid.track(37.0, 18.0, 21.0, dt=1.0)
    out = pid.update(18.0, 21.0, 1.0)      # first Auto cycle
    # Only one integral step (kp*dt/ti*e = 0.5) of change, no proportional jump (kp*e = 15).
    assert abs(out - 37.0) <= 5.0 * 1.0 / 30.0 * 3.0 + 1e-9


def test_setpoint_step_gives_no_derivative_kick():
    pid = PidController(PidParams(kp=2.0, ti=100.0, td=20.0, sp_weight=0.0))
    pid.track(50.0, 20.0, 20.0)
    out = pid.update(20.0, 25.0, 1.0)     # SP step, PV unchanged
    # With derivative on PV and b=0 there is no kick at all; only the integral
    # moves afterwards, by kp*dt/ti*e = 0.1 per second.
    assert out == pytest.approx(50.0)
    assert pid.update(20.0, 25.0, 1.0) == pytest.approx(50.1)


def test_derivative_is_filtered_and_opposes_pv_change():
    pid = PidController(PidParams(kp=1.0, ti=0.0, td=10.0, d_filter=5.0, out_min=-100))
    pid.track(0.0, 20.0, 20.0)
    first = pid.update(21.0, 20.0, 1.0)   # PV rises 1: reverse action pushes output down
    assert first < 0
    # Filtered: far smaller than the unfiltered kp*td*dpv/dt = 10, and decays afterwards.
    assert abs(first) < 10.0
    later = pid.update(21.0, 20.0, 1.0)
    assert abs(pid.terms.d) < abs(first - (-1.0)) + 1e-9


def test_retune_is_bumpless():
    pid = PidController(PidParams(kp=2.0, ti=60.0))
    same = PidController(PidParams(kp=2.0, ti=60.0))
    pid.update(19.0, 20.0, 1.0)
    same.update(19.0, 20.0, 1.0)
    pid.retune(PidParams(kp=6.0, ti=60.0))
    # Triple the gain: the next output equals the untouched controller's, no jump of 4 * e.
    assert pid.update(19.0, 20.0, 1e-6) == pytest.approx(same.update(19.0, 20.0, 1e-6), abs=1e-3)
