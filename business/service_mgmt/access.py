"""Who may see and do what with work orders and activities.

Staff grants (every role but owner/tenant) work on the record's scope chain
like every business collection. Residents see and act only on orders they
reported themselves, and on activities of their property or building. The
assignee may always read their order and move it through the field actions.
"""

from __future__ import annotations

from sqlalchemy import false, or_
from sqlalchemy.orm import Session

from tagdb.auth import Principal

from ..permissions import Visibility, covers, visibility
from ..scopes import located, located_chain
from .errors import NotFound, PermissionDenied
from .models import WorkOrder

FIELD_ACTIONS = ("accept", "decline", "start", "hold", "resume", "complete")
REPORTER_ACTIONS = ("cancel", "reopen")


def staff_vis(principal: Principal, permission: str) -> Visibility:
    """Where a principal holds ``permission`` through a staff (non-resident) grant."""
    return visibility(principal, permission, residents=False)


def resident_vis(principal: Principal, permission: str) -> Visibility:
    """Where a principal holds ``permission`` as a resident."""
    return visibility(principal, permission, residents=True)


def _in(vis: Visibility, chain: list[str]) -> bool:
    return covers(vis, chain)


def person_id(principal: Principal | None) -> int | None:
    """The resident record of the caller."""
    return (principal.attributes or {}).get("person_id") if principal is not None else None


def staff_id(principal: Principal | None) -> int | None:
    """The staff record of the caller."""
    return (principal.attributes or {}).get("staff_id") if principal is not None else None


def order_chain(s: Session, o: WorkOrder) -> list[str]:
    """Scope chain of an order: property, building, unit."""
    return located_chain(s, o.property_id, o.building_id, o.unit_id)


def can_read(s: Session, principal: Principal | None, o: WorkOrder) -> bool:
    """Staff in scope, the assignee, or the resident who reported it."""
    if principal is None:
        return True
    if staff_id(principal) is not None and staff_id(principal) == o.assignee_staff_id:
        return True
    if o.reporter_person_id is not None and person_id(principal) == o.reporter_person_id \
            and not resident_vis(principal, "workorders.read").nothing:
        return True
    return _in(staff_vis(principal, "workorders.read"), order_chain(s, o))


def readable(s: Session, principal: Principal | None, o: WorkOrder) -> WorkOrder:
    """``o`` when the caller may read it, else NotFound (never confirm other people's orders)."""
    if not can_read(s, principal, o):
        raise NotFound(f"work order {o.id} not found")
    return o


def check_action(s: Session, principal: Principal | None, o: WorkOrder, action: str) -> None:
    """PermissionDenied unless the caller may apply ``action`` to ``o``."""
    if principal is None:
        return
    chain = order_chain(s, o)
    if _in(staff_vis(principal, "workorders.write"), chain):
        return
    mine = staff_id(principal) is not None and staff_id(principal) == o.assignee_staff_id
    if action in FIELD_ACTIONS and mine and (_in(staff_vis(principal, "workorders.update"), chain)
                                             or not staff_vis(principal, "workorders.update").nothing):
        return
    if action in REPORTER_ACTIONS and o.reporter_person_id is not None and person_id(principal) == o.reporter_person_id:
        if action == "reopen" or o.state in ("new", "assigned"):
            return
    raise PermissionDenied(f"you may not {action} work order {o.number}",
                           {"action": "needs workorders.write here, or to be the assignee/reporter"})


def list_filter(principal: Principal | None):
    """SQL condition: the orders a principal may list."""
    if principal is None:
        return None
    conds = [located(WorkOrder.property_id, WorkOrder.building_id, WorkOrder.unit_id)(
        staff_vis(principal, "workorders.read"))]
    if staff_id(principal) is not None:
        conds.append(WorkOrder.assignee_staff_id == staff_id(principal))
    if person_id(principal) is not None and not resident_vis(principal, "workorders.read").nothing:
        conds.append(WorkOrder.reporter_person_id == person_id(principal))
    vis = staff_vis(principal, "workorders.read")
    if vis.everywhere:
        return None
    return or_(*conds) if conds else false()
