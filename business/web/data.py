"""What the manager views show, as plain functions over the CRUD layer (tested without a browser).

Every function takes the caller's principal, so the web views see exactly what
the REST API would let the same user see.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .. import attendance
from ..crud import Crud
from ..errors import BusinessError, PermissionDenied
from .i18n import column_label

COLUMNS = {
    "buildings": ("id", "code", "name", "use", "floors"),
    "units": ("id", "building_id", "code", "floor", "use", "gross_area", "inner_area", "status"),
    "people": ("id", "name", "phone", "email", "preferred_channel"),
    "staff": ("id", "employee_no", "name", "phone", "skills", "building_id"),
    "assets": ("id", "code", "name", "category", "model", "manufacturer", "importance", "status", "equipment_id",
               "warranty_end"),
}
FORMS = {
    "units": ("building_id", "code", "floor", "use", "gross_area", "inner_area"),
    "people": ("property_id", "name", "phone", "email", "preferred_channel"),
}


def table(s, crud: Crud, principal, collection: str, lang: str, search: str = "",
          filters: dict[str, str] | None = None, limit: int = 500) -> dict:
    """Rows of a collection for a table: {"columns": [labels], "rows": [[...]], "total", "error"}."""
    cols = COLUMNS[collection]
    params = {"per_page": str(limit), **(filters or {})}
    if search:
        params["q"] = search
    try:
        page = crud.list(s, principal, collection, params)
    except PermissionDenied:
        return {"columns": [column_label(c, lang) for c in cols], "rows": [], "total": 0, "error": "forbidden"}
    rows = [[", ".join(r[c]) if isinstance(r.get(c), list) else r.get(c) for c in cols] for r in page["items"]]
    return {"columns": [column_label(c, lang) for c in cols], "keys": list(cols), "rows": rows,
            "total": page["total"], "error": None}


def submit(s, crud: Crud, principal, collection: str, values: dict[str, Any]) -> dict:
    """Create a record from form values (empty inputs are left out); {"ok", "record"|"fields", "message"}."""
    body = {k: v for k, v in values.items() if v not in (None, "")}
    try:
        return {"ok": True, "record": crud.create(s, principal, collection, body)}
    except BusinessError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message, "fields": exc.fields}


def attendance_rows(s, crud: Crud, principal, now, days: int = 7) -> list[dict]:
    """Attendance of the staff the caller may see over the last ``days`` days."""
    try:
        visible = [r["id"] for r in crud.list(s, principal, "staff", {"per_page": "500"})["items"]]
        crud.list(s, principal, "attendance", {"per_page": "1"})
    except PermissionDenied:
        return []
    today = now.date()
    return attendance.summary(s, now, today - timedelta(days=days - 1), today, visible)


def building_options(s, crud: Crud, principal) -> dict[str, int]:
    """Building name → id for the caller's buildings."""
    try:
        items = crud.list(s, principal, "buildings", {"per_page": "500"})["items"]
    except PermissionDenied:
        return {}
    return {f"{b['code']} {b['name']}": b["id"] for b in items}
