"""The work-order state machine: every allowed and refused transition, reopen, concurrent updates."""

from __future__ import annotations

import threading

import pytest

from business.service_mgmt.errors import ConcurrentUpdate, InvalidTransition
from business.service_mgmt.states import ACTIONS, STATES, TRANSITIONS, allowed_actions, next_state

from .support import ADMIN

EXPECTED = {  # the documented machine, written out independently of the table
    ("new", "assign"): "assigned", ("assigned", "assign"): "assigned", ("accepted", "assign"): "assigned",
    ("assigned", "accept"): "accepted", ("assigned", "decline"): "new", ("accepted", "start"): "in_progress",
    ("in_progress", "hold"): "on_hold", ("on_hold", "resume"): "in_progress",
    ("in_progress", "complete"): "completed", ("completed", "verify"): "verified", ("verified", "close"): "closed",
    ("new", "reject"): "rejected", ("assigned", "reject"): "rejected",
    **{(st, "cancel"): "cancelled" for st in ("new", "assigned", "accepted", "in_progress", "on_hold")},
    **{(st, "reopen"): "new" for st in ("completed", "verified", "closed", "rejected")},
    **{(st, "resolve"): "completed" for st in ("new", "assigned", "accepted", "in_progress", "on_hold")},
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_pair_is_allowed_or_refused_as_documented(state, action):
    if (state, action) in EXPECTED:
        assert next_state(state, action) == EXPECTED[(state, action)]
        assert action in allowed_actions(state)
    else:
        with pytest.raises(InvalidTransition) as exc:
            next_state(state, action)
        assert exc.value.code == "invalid_transition" and exc.value.http_status == 409
        assert state in exc.value.message and action in exc.value.message
        assert action not in allowed_actions(state)


def test_unknown_action_is_refused():
    with pytest.raises(InvalidTransition):
        next_state("new", "teleport")


def test_table_and_expectation_agree():
    assert {(st, a) for a, (froms, _) in TRANSITIONS.items() for st in froms} == set(EXPECTED)


def _new_order(orders, world, **extra):
    body = {"kind": "repair", "title": "Lift door sticks", "asset_id": world["aA"], **extra}
    return orders.call(orders.create_tx, ADMIN, body)[0]


def test_full_life_cycle_records_every_transition(orders, world, clock):
    o = _new_order(orders, world)
    assert o["state"] == "assigned" and o["assignee_staff_id"] == world["sA"]   # elevator skill, on duty
    steps = ["accept", "start", "hold", "resume", "complete", "verify", "close", "reopen"]
    for action in steps:
        clock.advance(minutes=5)
        o = orders.call(orders.act_tx, ADMIN, o["id"], action, comment=f"c-{action}")[0]
    tl = [e for e in o["timeline"] if e["action"] not in ("create", "cost")]
    assert [e["action"] for e in tl][:len(steps) + 1] == ["assign"] + steps
    # each entry starts where the previous ended, and says who and why
    for a, b in zip(tl, tl[1:]):
        assert b["from"] == a["to"]
    assert all(e["actor"] for e in tl) and tl[1]["comment"] == "c-accept"
    assert o["reopen_count"] == 1
    # reopened → new and assigned again automatically
    assert o["state"] == "assigned" and o["completed_at"] is None


def test_refused_transition_leaves_the_order_untouched(orders, world):
    o = _new_order(orders, world)
    with pytest.raises(InvalidTransition):
        orders.call(orders.act_tx, ADMIN, o["id"], "complete")
    again = orders.call(orders.get_tx, ADMIN, o["id"])[0]
    assert again["state"] == "assigned" and again["version"] == o["version"]
    assert len(again["timeline"]) == len(o["timeline"])


def test_stale_version_is_refused(orders, world):
    o = _new_order(orders, world)
    orders.call(orders.act_tx, ADMIN, o["id"], "accept", version=o["version"])
    with pytest.raises(ConcurrentUpdate):
        orders.call(orders.act_tx, ADMIN, o["id"], "decline", version=o["version"])


def test_concurrent_updates_lose_no_transition(orders, world):
    """Threads race hold/resume on one order: every success is in the timeline, chained, once."""
    o = _new_order(orders, world)
    for action in ("accept", "start"):
        orders.call(orders.act_tx, ADMIN, o["id"], action)
    ok: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def worker(n):
        for i in range(6):
            action = "hold" if (n + i) % 2 == 0 else "resume"
            try:
                orders.call(orders.act_tx, ADMIN, o["id"], action, comment=f"w{n}-{i}")
                with lock:
                    ok.append(f"w{n}-{i}")
            except InvalidTransition:
                with lock:
                    refused.append(f"w{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    final = orders.call(orders.get_tx, ADMIN, o["id"])[0]
    races = [e for e in final["timeline"] if e["action"] in ("hold", "resume")]
    assert sorted(e["comment"] for e in races) == sorted(ok)
    assert len(ok) + len(refused) == 24 and ok
    chain = [e for e in final["timeline"] if e["from"] is not None and e["action"] not in ("cost",)]
    for a, b in zip(chain, chain[1:]):
        assert b["from"] == a["to"], (a, b)
    assert final["state"] == chain[-1]["to"]


PATHS = {  # a way to reach each state from a new order (as the system: no permission checks)
    "new": [], "assigned": ["assign"], "accepted": ["assign", "accept"],
    "in_progress": ["assign", "accept", "start"], "on_hold": ["assign", "accept", "start", "hold"],
    "completed": ["assign", "accept", "start", "complete"],
    "verified": ["assign", "accept", "start", "complete", "verify"],
    "closed": ["assign", "accept", "start", "complete", "verify", "close"], "rejected": ["reject"],
    "cancelled": ["cancel"],
}


def test_every_pair_through_the_database(db, world, clock):
    """Each state × action on stored orders: the expected state and a timeline entry, or a refusal
    that changes nothing."""
    from business.service_mgmt.orders import Orders
    from business.service_mgmt.schema import defaults

    orders = Orders(db, clock, defaults({"auto_assign": False}))

    def reach(state):
        o = orders.call(orders.create_tx, None, {"kind": "repair", "title": "t", "asset_id": world["aA"]})[0]
        for action in PATHS[state]:
            o = orders.call(orders.act_tx, None, o["id"], action, staff_id=world["sA"])[0]
        assert o["state"] == state
        return o

    for state in STATES:
        base = reach(state)
        for action in ACTIONS:
            if (state, action) in EXPECTED:
                o = reach(state) if base is None else base
                base = None                       # used up: the next allowed action needs a fresh order
                after = orders.call(orders.act_tx, None, o["id"], action, staff_id=world["sA"])[0]
                assert after["state"] == EXPECTED[(state, action)], (state, action)
                last = after["timeline"][-1]
                assert (last["from"], last["to"], last["action"]) == (state, after["state"], action)
            else:
                probe = base or reach(state)
                with pytest.raises(InvalidTransition):
                    orders.call(orders.act_tx, None, probe["id"], action, staff_id=world["sA"])
                again = orders.call(orders.get_tx, None, probe["id"])[0]
                assert again["state"] == state and again["version"] == probe["version"]


def test_concurrent_creations_get_distinct_numbers(orders, world):
    numbers, lock = [], threading.Lock()

    def worker():
        o = orders.call(orders.create_tx, ADMIN, {"kind": "cleaning", "title": "lobby", "building_id": world["bA"]})[0]
        with lock:
            numbers.append(o["number"])
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(numbers) == 8 and len(set(numbers)) == 8
