"""Scope chains of records and the SQL filters that restrict queries to a caller's scope."""

from __future__ import annotations

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from .models import Building, Person, Property, Residency, Staff, Unit
from .permissions import Visibility


def property_chain(s: Session, property_id: int | None) -> list[str]:
    """``["property:<code>"]`` for a property id."""
    code = s.scalar(select(Property.code).where(Property.id == property_id)) if property_id else None
    return [f"property:{code}"] if code else []


def building_chain(s: Session, building_id: int | None) -> list[str]:
    """Property and building scopes of a building id."""
    if not building_id:
        return []
    row = s.execute(select(Building.code, Property.code).join(Property, Building.property_id == Property.id)
                    .where(Building.id == building_id)).first()
    return [f"property:{row[1]}", f"building:{row[0]}"] if row else []


def unit_chain(s: Session, unit_id: int | None) -> list[str]:
    """Property, building and unit scopes of a unit id."""
    if not unit_id:
        return []
    bid = s.scalar(select(Unit.building_id).where(Unit.id == unit_id))
    return building_chain(s, bid) + [f"unit:{unit_id}"] if bid else []


def located_chain(s: Session, property_id=None, building_id=None, unit_id=None) -> list[str]:
    """Union of the chains of whatever location columns a record has."""
    return sorted(set(property_chain(s, property_id) + building_chain(s, building_id) + unit_chain(s, unit_id)))


def person_chain(s: Session, person: Person) -> list[str]:
    """A person is in their property and in every unit they live in (or lived in)."""
    chain = property_chain(s, person.property_id)
    units = list(s.scalars(select(Residency.unit_id).where(Residency.person_id == person.id))) \
        if person.id is not None else []
    for uid in units:
        chain += unit_chain(s, uid)
    if not units:
        # not living anywhere yet: managed by whoever manages a building of the property
        chain += [f"building:{c}" for c in s.scalars(select(Building.code)
                                                     .where(Building.property_id == person.property_id))]
    return sorted(set(chain))


def staff_chain(s: Session, staff_id: int | None) -> list[str]:
    """Scopes of a staff member: their property and home building."""
    st = s.get(Staff, staff_id) if staff_id else None
    return located_chain(s, st.property_id, st.building_id) if st else []


# -- SQL filters -----------------------------------------------------------
def _prop_ids(vis: Visibility):
    return select(Property.id).where(Property.code.in_(sorted(vis.properties)))


def _bld_ids(vis: Visibility):
    return select(Building.id).where(Building.code.in_(sorted(vis.buildings)))


def located(pcol=None, bcol=None, ucol=None):
    """Filter for tables carrying property/building/unit id columns."""
    def where(vis: Visibility):
        conds = []
        if pcol is not None and vis.properties:
            conds.append(pcol.in_(_prop_ids(vis)))
        if bcol is not None and vis.buildings:
            conds.append(bcol.in_(_bld_ids(vis)))
        if ucol is not None and vis.units:
            conds.append(ucol.in_(sorted(vis.units)))
        return or_(*conds) if conds else false()
    return where


_unit_where = located(Unit.property_id, Unit.building_id, Unit.id)
_staff_where = located(Staff.property_id, Staff.building_id)


def via_unit(col):
    """Filter for rows attached to a unit by ``col``."""
    return lambda vis: col.in_(select(Unit.id).where(_unit_where(vis)))


def via_staff(col):
    """Filter for rows attached to a staff member by ``col``."""
    return lambda vis: col.in_(select(Staff.id).where(_staff_where(vis)))


def property_wide(pcol):
    """Filter for property-wide records (departments, shifts...): visible to any grant inside the property."""
    def where(vis: Visibility):
        conds = []
        if vis.properties:
            conds.append(pcol.in_(_prop_ids(vis)))
        if vis.buildings:
            conds.append(pcol.in_(select(Building.property_id).where(Building.code.in_(sorted(vis.buildings)))))
        if vis.units:
            conds.append(pcol.in_(select(Unit.property_id).where(Unit.id.in_(sorted(vis.units)))))
        return or_(*conds) if conds else false()
    return where


def people_where(vis: Visibility):
    """People of visible properties, living in visible units, or (for building grants) not housed yet."""
    conds = [Person.id.in_(select(Residency.person_id).where(via_unit(Residency.unit_id)(vis)))]
    if vis.buildings:
        conds.append(Person.property_id.in_(select(Building.property_id).where(Building.code.in_(sorted(vis.buildings))))
                     & ~Person.id.in_(select(Residency.person_id)))
    if vis.properties:
        conds.append(Person.property_id.in_(_prop_ids(vis)))
    return or_(*conds)
