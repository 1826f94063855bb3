"""OpenAPI operations of the service-management resources (``x-permission`` per route)."""

from __future__ import annotations

from tagdb.api.openapi import Operation, Param, Response, errors

ID = Param("id", "path", {"type": "integer"})
OBJ = {"type": "object"}
RANGE = (Param("from", description="ISO 8601 start"), Param("to", description="ISO 8601 end"))

ORDER_BODY = {"type": "object", "required": ["kind", "title"], "properties": {
    "kind": {"enum": ["repair", "cleaning", "complaint", "inspection", "preventive", "emergency"]},
    "title": {"type": "string"}, "description": {"type": "string"},
    "priority": {"enum": ["critical", "high", "normal", "low"]},
    "unit_id": {"type": "integer"}, "building_id": {"type": "integer"}, "asset_id": {"type": "integer"},
    "equipment_id": {"type": "string"}, "photos": {"type": "array", "items": {"type": "string"}},
    "preferred_visit": {"type": "string"}, "skills": {"type": "array", "items": {"type": "string"}}}}
TRANSITION = {"type": "object", "required": ["action"], "properties": {
    "action": {"enum": ["assign", "accept", "decline", "start", "hold", "resume", "complete", "verify", "close",
                        "reject", "cancel", "reopen"]},
    "comment": {"type": "string"}, "staff_id": {"type": "integer"},
    "version": {"type": "integer", "description": "optimistic lock: refused with 409 when stale"}}}


def _op(method, path, summary, op_id, perm, params=(), body=None, ok=200, errs=(401, 403, 404, 422), tag="workorders"):
    return Operation(method, path, summary, op_id, (tag,), tuple(params), request_body=body,
                     responses={ok: Response(summary, OBJ), **errors(*errs)}, permission=perm)


def workorder_operations() -> list[Operation]:
    """Every ``/workorders`` route."""
    return [
        _op("GET", "/workorders", "Work orders the caller may see, overdue first", "listWorkOrders", "workorders.read",
            [Param(k) for k in ("state", "kind", "source", "priority", "building_id", "assignee_staff_id",
                                "equipment_id", "alarm_id", "overdue")]),
        _op("POST", "/workorders", "Report or open a work order (assigned automatically)", "createWorkOrder",
            "workorders.create", body=ORDER_BODY, ok=201, errs=(400, 401, 403, 422)),
        _op("GET", "/workorders/{id}", "A work order with its timeline, costs, rating", "getWorkOrder",
            "workorders.read", [ID]),
        _op("POST", "/workorders/{id}/transitions", "Move a work order through its state machine",
            "transitionWorkOrder", "workorders.update", [ID], TRANSITION, errs=(400, 401, 403, 404, 409, 422)),
        _op("POST", "/workorders/{id}/costs", "Add a part or labour line (decimal strings)", "addWorkOrderCost",
            "workorders.update", [ID], OBJ, ok=201),
        _op("POST", "/workorders/{id}/rating", "The reporting resident rates the service 1-5", "rateWorkOrder",
            "workorders.read", [ID], OBJ, ok=201, errs=(400, 401, 403, 404, 409, 422)),
        _op("GET", "/workorders/board", "Counts by state and building, open orders overdue first",
            "workOrderBoard", "workorders.read"),
        _op("GET", "/workorders/figures", "Per staff: completed, ratings, SLA compliance", "staffServiceFigures",
            "workorders.write", RANGE + (Param("staff_id"),)),
        _op("POST", "/workorders/reviews", "Write service figures into the staff reviews of a period",
            "feedStaffReviews", "reviews.write", body=OBJ),
        _op("GET", "/workorders/reliability/{id}", "Failures, downtime, MTTR and MTBF of an asset",
            "assetReliability", "assets.read", [ID, Param("days")]),
    ]


def pm_operations() -> list[Operation]:
    """Every ``/pm`` route."""
    return [
        _op("GET", "/pm/plans", "Preventive plans and their progress", "listPmPlans", "pm.read", tag="pm"),
        _op("GET", "/pm/calendar", "Plan orders due in a range, overdue flagged", "pmCalendar", "pm.read", RANGE,
            tag="pm"),
        _op("GET", "/pm/compliance", "Planned vs done on time per building and category", "pmCompliance",
            "pm.read", RANGE, tag="pm"),
        _op("POST", "/pm/run", "Run one planning pass now", "runPmPlans", "pm.write", tag="pm"),
    ]


def activity_operations() -> list[Operation]:
    """Every ``/activities`` route."""
    t = "activities"
    return [
        _op("GET", "/activities", "Activities the caller may see", "listActivities", "activities.read", tag=t),
        _op("POST", "/activities", "Publish an activity", "createActivity", "activities.write", body=OBJ, ok=201,
            tag=t),
        _op("GET", "/activities/{id}", "One activity with its counts", "getActivity", "activities.read", [ID], tag=t),
        _op("PATCH", "/activities/{id}", "Change an activity (registrants are told)", "updateActivity",
            "activities.write", [ID], OBJ, tag=t),
        _op("POST", "/activities/{id}/cancel", "Cancel an activity", "cancelActivity", "activities.write", [ID],
            tag=t, errs=(401, 403, 404, 409)),
        _op("POST", "/activities/{id}/registration", "Register (place or waiting list)", "registerActivity",
            "activities.register", [ID], ok=201, tag=t, errs=(401, 403, 404, 409, 422)),
        _op("DELETE", "/activities/{id}/registration", "Cancel a registration (first waiting promoted)",
            "unregisterActivity", "activities.register", [ID, Param("person_id")], tag=t),
        _op("POST", "/activities/{id}/checkin", "Check a confirmed registrant in", "checkInActivity",
            "activities.write", [ID], OBJ, tag=t, errs=(401, 403, 404, 409, 422)),
        _op("GET", "/activities/{id}/registrations", "Registrations and waiting list", "listRegistrations",
            "activities.write", [ID], tag=t),
    ]
