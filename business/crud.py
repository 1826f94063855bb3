"""Generic, permission-checked create/read/update/delete over the business models.

A :class:`Spec` declares one REST collection: its model, writable fields, how to
find a record's scope chain (for single-record checks) and how to restrict a
query to what a caller may see (for lists). Every write is validated field by
field (all bad fields reported together), checked against the caller's grants
on the record's old and new scope, and audited in the same transaction.
Records outside the caller's scope are reported as not found, so ids of other
residents' data are never confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tagdb.auth import Principal

from .audit import record, snapshot
from .errors import Conflict, NotFound, PermissionDenied, ValidationError
from .fields import F
from .permissions import Visibility, allowed, visibility

MAX_PER_PAGE = 500


@dataclass
class Spec:
    """One REST collection over one model."""

    name: str
    model: type
    fields: dict[str, F]
    chain: Callable[[Session, Any], list[str]]
    scope_filter: Callable[[Visibility], Any]
    filters: dict[str, tuple[Any, Callable[[Any], Any]]] = field(default_factory=dict)
    search: tuple = ()
    unique: tuple[tuple[str, ...], ...] = ()
    refs: dict[str, type] = field(default_factory=dict)
    derive: Callable[[Session, Any, dict], None] | None = None
    check: Callable[[Session, Any, dict], None] | None = None
    create_chain: Callable[[Session, Any], list[str]] | None = None
    title: str = ""

    @property
    def read_perm(self) -> str:
        """Permission to list and read."""
        return f"{self.name}.read"

    @property
    def write_perm(self) -> str:
        """Permission to create, change and delete."""
        return f"{self.name}.write"


def to_json(obj: Any) -> dict:
    """The JSON form of a record (Decimal as exact strings, dates in ISO 8601)."""
    return snapshot(obj)


class Crud:
    """The operations behind every collection; ``clock()`` returns the aware UTC now."""

    def __init__(self, specs: dict[str, Spec], clock: Callable[[], datetime]) -> None:
        self.specs = specs
        self.clock = clock

    def spec(self, name: str) -> Spec:
        """The spec of collection ``name``."""
        try:
            return self.specs[name]
        except KeyError:
            raise NotFound(f"no collection {name!r}") from None

    # -- reads ---------------------------------------------------------------
    def _vis(self, principal: Principal, perm: str) -> Visibility:
        vis = visibility(principal, perm)
        if vis.nothing:
            raise PermissionDenied(f"permission {perm!r} required")
        return vis

    def _where(self, spec: Spec, vis: Visibility):
        return true() if vis.everywhere else spec.scope_filter(vis)

    def list(self, s: Session, principal: Principal, name: str, params: dict[str, str]) -> dict:
        """One page of visible records, filtered by ``params`` (page, per_page, q, and per-spec filters)."""
        spec = self.spec(name)
        vis = self._vis(principal, spec.read_perm)
        errors: dict[str, str] = {}
        page = _param_int(params, "page", 1, 1, None, errors)
        per_page = _param_int(params, "per_page", 50, 1, MAX_PER_PAGE, errors)
        stmt = select(spec.model).where(self._where(spec, vis))
        for key, raw in params.items():
            if key in ("page", "per_page"):
                continue
            if key == "q":
                if spec.search and raw:
                    stmt = stmt.where(or_(*[col.ilike(f"%{raw}%") for col in spec.search]))
                continue
            if key not in spec.filters:
                errors[key] = f"unknown filter (filters: {', '.join(sorted(spec.filters)) or 'none'}, q, page, per_page)"
                continue
            col, conv = spec.filters[key]
            try:
                stmt = stmt.where(col == conv(raw))
            except ValueError as exc:
                errors[key] = str(exc)
        if errors:
            raise ValidationError("invalid query parameters", errors)
        total = s.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = s.scalars(stmt.order_by(spec.model.id).limit(per_page).offset((page - 1) * per_page))
        return {"items": [to_json(r) for r in rows], "page": page, "per_page": per_page, "total": total}

    def load(self, s: Session, principal: Principal, spec: Spec, ident: Any, perm: str | None = None) -> Any:
        """A record the caller may read (NotFound otherwise)."""
        vis = self._vis(principal, perm or spec.read_perm)
        try:
            key = int(ident)
        except (TypeError, ValueError):
            raise NotFound(f"no {spec.name} record {ident!r}") from None
        obj = s.scalar(select(spec.model).where(spec.model.id == key, self._where(spec, vis)))
        if obj is None:
            raise NotFound(f"no {spec.name} record {ident!r}")
        return obj

    def get(self, s: Session, principal: Principal, name: str, ident: Any) -> dict:
        """One record."""
        spec = self.spec(name)
        return to_json(self.load(s, principal, spec, ident))

    # -- writes --------------------------------------------------------------
    def _convert(self, spec: Spec, body: Any, creating: bool) -> dict:
        if not isinstance(body, dict):
            raise ValidationError("expected a JSON object", {"body": "expected a JSON object"})
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        for key in body:
            if key not in spec.fields:
                errors[key] = "unknown or read-only field"
        for key, f in spec.fields.items():
            if key not in body:
                if creating:
                    if f.required:
                        errors[key] = "is required"
                    elif f.default is not None:
                        clean[key] = f.default() if callable(f.default) else f.default
                continue
            value = body[key]
            if value is None and f.required:
                errors[key] = "must not be null"
                continue
            try:
                clean[key] = f.convert(value)
            except ValueError as exc:
                errors[key] = str(exc)
        if errors:
            raise ValidationError(f"invalid {spec.name} record", errors)
        return clean

    def _validate(self, s: Session, spec: Spec, obj: Any, changed: dict) -> None:
        errors: dict[str, str] = {}
        for key, model in spec.refs.items():
            value = getattr(obj, key)
            if value is not None and key in changed and s.get(model, value) is None:
                errors[key] = f"no {model.__tablename__} record {value}"
        if errors:
            raise ValidationError(f"invalid {spec.name} record", errors)
        if spec.derive is not None:
            spec.derive(s, obj, errors)
        if spec.check is not None and not errors:
            spec.check(s, obj, errors)
        for cols in spec.unique:
            if errors or not any(c in changed for c in cols):
                continue
            stmt = select(spec.model.id).where(*[getattr(spec.model, c) == getattr(obj, c) for c in cols])
            if obj.id is not None:
                stmt = stmt.where(spec.model.id != obj.id)
            if s.scalar(stmt) is not None:
                raise Conflict(f"a {spec.name} record with this {'/'.join(cols)} exists",
                               {cols[-1]: "already exists"})
        if errors:
            raise ValidationError(f"invalid {spec.name} record", errors)

    def _flush(self, s: Session, spec: Spec) -> None:
        try:
            s.flush()
        except IntegrityError as exc:
            raise Conflict(f"{spec.name}: the change conflicts with existing data "
                           f"({type(exc.orig).__name__})") from None

    def create(self, s: Session, principal: Principal, name: str, body: Any, actor: str | None = None) -> dict:
        """Validate and insert one record; audited."""
        spec = self.spec(name)
        self._vis(principal, spec.write_perm)
        clean = self._convert(spec, body, creating=True)
        obj = spec.model(**clean)
        self._validate(s, spec, obj, clean)
        chain = (spec.create_chain or spec.chain)(s, obj)
        if not allowed(principal, spec.write_perm, chain):
            raise PermissionDenied(f"{spec.write_perm} is not granted for this scope")
        s.add(obj)
        self._flush(s, spec)
        after = to_json(obj)
        record(s, actor or principal.user, "create", spec.name, obj.id, None, after, self.clock())
        return after

    def update(self, s: Session, principal: Principal, name: str, ident: Any, body: Any) -> dict:
        """Validate and apply a partial change; both the old and the new scope must be writable."""
        spec = self.spec(name)
        obj = self.load(s, principal, spec, ident)
        if not allowed(principal, spec.write_perm, spec.chain(s, obj)):
            raise PermissionDenied(f"{spec.write_perm} is not granted for this record")
        clean = self._convert(spec, body, creating=False)
        before = to_json(obj)
        for key, value in clean.items():
            setattr(obj, key, value)
        self._validate(s, spec, obj, clean)
        if not allowed(principal, spec.write_perm, spec.chain(s, obj)):
            raise PermissionDenied(f"{spec.write_perm} is not granted for the new scope")
        self._flush(s, spec)
        after = to_json(obj)
        if after != before:
            record(s, principal.user, "update", spec.name, obj.id, before, after, self.clock())
        return after

    def delete(self, s: Session, principal: Principal, name: str, ident: Any) -> None:
        """Delete one record (refused with Conflict while other records refer to it); audited."""
        spec = self.spec(name)
        obj = self.load(s, principal, spec, ident)
        if not allowed(principal, spec.write_perm, spec.chain(s, obj)):
            raise PermissionDenied(f"{spec.write_perm} is not granted for this record")
        before = to_json(obj)
        s.delete(obj)
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"{spec.name} record {before['id']} is still referenced by other records") from None
        record(s, principal.user, "delete", spec.name, before["id"], before, None, self.clock())


def _param_int(params: dict, key: str, default: int, lo: int, hi: int | None, errors: dict) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        errors[key] = "expected an integer"
        return default
    if v < lo or (hi is not None and v > hi):
        errors[key] = f"must be between {lo} and {hi}" if hi else f"must be >= {lo}"
        return default
    return v
