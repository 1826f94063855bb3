"""The registry's mirror of the site, and the demo property's seed data.

:func:`sync_site` runs on every start: the property and its buildings follow
the site configuration (buildings are the scope keys shared with the SCADA
side). :func:`seed_demo` fills an empty registry with realistic data (units for
every apartment and shop, owners, tenants, staff roster, assets for every piece
of equipment) from a seeded random generator, so every demo run is identical;
its asset and user parts are idempotent and also pick up equipment added later.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .audit import record
from .identity import create_user

from .models import (Asset, Building, ClockRecord, CommonArea, Department, Lease, ParkingSpace, Person, Position,
                     Property, Residency, RoleGrant, RosterEntry, Shift, Staff, Unit, User, Vehicle)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华文辉玉兰婷志强红梅晨阳佳怡子涵浩然欣怡宇轩梓萱思远雨桐俊杰"
PROVINCES = "沪苏浙粤京"
EQUIPMENT_MAKERS = {
    "elevator": ("Schindler 迅达", "5500 MRL", "critical", Decimal("680000.00")),
    "chiller": ("Carrier 开利", "30XW-1002", "critical", Decimal("1450000.00")),
    "ahu": ("Trane 特灵", "CLCP-30", "high", Decimal("186000.00")),
    "boiler": ("Viessmann 菲斯曼", "Vitocrossal 300", "high", Decimal("320000.00")),
    "pump": ("Grundfos 格兰富", "CR 64-2", "high", Decimal("42000.00")),
    "lighting": ("Philips 飞利浦", "Dynalite DDRC", "normal", Decimal("58000.00")),
    "parking": ("Hikvision 海康威视", "DS-TMG4B5", "normal", Decimal("76000.00")),
    "meter": ("Acrel 安科瑞", "ADW300", "low", Decimal("2800.00")),
    "parking-space": ("Hikvision 海康威视", "DS-TCP bay sensor", "low", Decimal("1200.00")),
}
STAFF_PLAN = (  # department, position, skills, how many
    ("engineering", "elevator-tech", ["elevator", "electrical"], 3),
    ("engineering", "hvac-tech", ["hvac", "electrical"], 3),
    ("engineering", "electrician", ["electrical"], 2),
    ("engineering", "plumber", ["plumbing"], 2),
    ("cleaning", "cleaner", ["cleaning"], 6),
    ("security", "guard", ["security"], 8),
    ("service", "manager", [], 2),
)
DEPARTMENTS = {"engineering": "工程部", "cleaning": "保洁部", "security": "秩序维护部", "service": "客服中心"}
SHIFTS = (("day", "白班", time(8, 0), time(17, 0)), ("evening", "中班", time(16, 0), time(0, 0)),
          ("night", "夜班", time(22, 0), time(7, 0)))


def sync_site(s: Session, site: Any, prop_cfg: dict, now: datetime) -> Property:
    """Create or update the property and one building per site building."""
    code = prop_cfg.get("code") or "site"
    prop = s.scalar(select(Property).where(Property.code == code))
    if prop is None:
        prop = Property(code=code, name=prop_cfg.get("name") or site.name, address=prop_cfg.get("address") or "",
                        timezone=site.timezone)
        s.add(prop)
        s.flush()
        record(s, "system", "create", "properties", prop.id, None, {"code": code, "name": prop.name}, now)
    for b in site.buildings:
        row = s.scalar(select(Building).where(Building.code == b.id))
        values = {"name": b.name, "use": b.use, "floors": max(b.floors, 1), "basement_floors": b.basement_floors}
        if row is None:
            row = Building(property_id=prop.id, code=b.id, **values)
            s.add(row)
            s.flush()
            record(s, "system", "create", "buildings", row.id, None, {"code": b.id, **values}, now)
        elif any(getattr(row, k) != v for k, v in values.items()):
            before = {"code": b.id, **{k: getattr(row, k) for k in values}}
            for k, v in values.items():
                setattr(row, k, v)
            record(s, "system", "update", "buildings", row.id, before, {"code": b.id, **values}, now)
    return prop


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random, used: set) -> str:
    while True:
        p = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
        if p not in used:
            used.add(p)
            return p


def seed_demo(s: Session, site: Any, prop: Property, cfg: dict, now: datetime) -> dict:
    """Fill an empty registry with demo data; returns counts (empty when already seeded)."""
    if s.scalar(select(func.count(Unit.id)).where(Unit.property_id == prop.id)):
        return {}
    rng = random.Random(cfg.get("random_seed", 8))
    counts = {"units": 0, "people": 0, "leases": 0, "vehicles": 0, "staff": 0, "parking": 0}
    phones: set[str] = set()
    buildings = {b.code: b for b in s.scalars(select(Building).where(Building.property_id == prop.id))}
    for sb in site.buildings:
        b = buildings[sb.id]
        for area in sb.areas:
            s.add(CommonArea(property_id=prop.id, building_id=b.id, code=f"{sb.id}/{area.id}", name=area.name,
                             area=Decimal(rng.randrange(80, 900))))
        if sb.use == "parking":
            for level in range(1, sb.basement_floors + 1):
                for n in range(1, 41):
                    s.add(ParkingSpace(property_id=prop.id, building_id=b.id, code=f"B{level}-{n:03d}",
                                       level=-level, kind="owned" if n <= 25 else "rented", area=Decimal("12.50")))
                    counts["parking"] += 1
            continue
        if sb.use not in ("residential", "commercial", "office", "mixed"):
            continue
        shop = sb.use == "commercial"
        per_floor = cfg.get("shops_per_floor", 8) if shop else cfg.get("apartments_per_floor", 4)
        for floor in range(1 if shop else 2, max(sb.floors, 1) + 1):
            for n in range(1, per_floor + 1):
                gross = Decimal(rng.choice((89, 96, 118, 135)) if not shop else rng.randrange(60, 400)) + \
                    Decimal(rng.randrange(0, 100)) / 100
                unit = Unit(property_id=prop.id, building_id=b.id, floor=floor,
                            code=(f"L{floor}-{n:02d}" if shop else f"{floor:02d}{n:02d}"),
                            use="commercial" if shop else "residential", gross_area=gross,
                            inner_area=(gross * Decimal("0.78")).quantize(Decimal("0.01")), status="vacant")
                s.add(unit)
                counts["units"] += 1
    s.flush()
    units = list(s.scalars(select(Unit).where(Unit.property_id == prop.id).order_by(Unit.id)))
    moved = date(2019, 6, 1)
    for unit in units:
        if rng.random() > cfg.get("occupancy", 0.8):
            continue
        owner = Person(property_id=prop.id, name=_name(rng), phone=_phone(rng, phones),
                       preferred_channel=rng.choice(("sms", "wechat", "app", "email")))
        s.add(owner)
        s.flush()
        counts["people"] += 1
        move_in = moved + timedelta(days=rng.randrange(0, 2000))
        s.add(Residency(unit_id=unit.id, person_id=owner.id, role="owner", share=Decimal("1"), moved_in=move_in))
        unit.status = "occupied"
        occupant = owner
        if rng.random() < cfg.get("rented", 0.25):
            tenant = Person(property_id=prop.id, name=_name(rng), phone=_phone(rng, phones), preferred_channel="sms")
            s.add(tenant)
            s.flush()
            counts["people"] += 1
            start = date(now.year, 1, 1) + timedelta(days=rng.randrange(0, 200))
            rent = (unit.gross_area * Decimal(rng.choice((60, 75, 90, 120)))).quantize(Decimal("1"))
            s.add(Residency(unit_id=unit.id, person_id=tenant.id, role="tenant", moved_in=start))
            s.add(Lease(unit_id=unit.id, person_id=tenant.id, start_date=start, end_date=start + timedelta(days=365),
                        monthly_rent=rent, deposit=rent * 2, status="active"))
            unit.status = "rented"
            counts["leases"] += 1
            occupant = tenant
        if unit.use == "residential" and rng.random() < 0.5:
            member = Person(property_id=prop.id, name=occupant.name[0] + _name(rng)[1:], phone="", preferred_channel="sms")
            s.add(member)
            s.flush()
            counts["people"] += 1
            s.add(Residency(unit_id=unit.id, person_id=member.id, role="member", relation="家属", moved_in=move_in))
        if unit.use == "residential" and rng.random() < 0.45:
            plate = rng.choice(PROVINCES) + rng.choice("ABCDEF") + "".join(rng.choice("0123456789ABCDEFGHJK")
                                                                          for _ in range(5))
            if s.scalar(select(Vehicle.id).where(Vehicle.plate == plate)) is None:
                s.add(Vehicle(person_id=occupant.id, unit_id=unit.id, plate=plate, description="轿车"))
                counts["vehicles"] += 1
    counts["staff"] = _seed_staff(s, prop, buildings, rng, phones, now)
    record(s, "system", "seed", "demo", prop.code, None, counts, now)
    return counts


def _seed_staff(s: Session, prop: Property, buildings: dict, rng: random.Random, phones: set, now: datetime) -> int:
    deps, positions = {}, {}
    for code, name in DEPARTMENTS.items():
        deps[code] = Department(property_id=prop.id, code=code, name=name)
        s.add(deps[code])
    s.flush()
    shifts = []
    for code, name, start, end in SHIFTS:
        sh = Shift(property_id=prop.id, code=code, name=name, start=start, end=end, grace_minutes=5)
        s.add(sh)
        shifts.append(sh)
    s.flush()
    homes = [b.id for b in buildings.values() if b.use in ("residential", "commercial")]
    n = 0
    for dep, pos, skills, count in STAFF_PLAN:
        if (dep, pos) not in positions:
            positions[(dep, pos)] = Position(department_id=deps[dep].id, code=pos, name=pos)
            s.add(positions[(dep, pos)])
            s.flush()
        for _ in range(count):
            n += 1
            st = Staff(property_id=prop.id, building_id=rng.choice(homes) if dep in ("cleaning", "security") else None,
                       employee_no=f"E{n:04d}", name=_name(rng), phone=_phone(rng, phones),
                       department_id=deps[dep].id, position_id=positions[(dep, pos)].id, skills=sorted(skills),
                       hired=date(2018, 1, 1) + timedelta(days=rng.randrange(0, 2500)), active=True)
            s.add(st)
            s.flush()
            # a 14-day roster around today, with clock records for the past days
            for offset in range(-7, 7):
                day = now.date() + timedelta(days=offset)
                if (n + offset) % 7 in (5, 6):
                    continue
                shift = shifts[0] if dep in ("engineering", "service") else shifts[(n + offset // 7) % 3]
                s.add(RosterEntry(staff_id=st.id, shift_id=shift.id, day=day))
                start = datetime.combine(day, shift.start, ZoneInfo(prop.timezone))
                hours = 9 if shift.code == "day" else (8 if shift.code == "evening" else 9)
                if offset < 0 and rng.random() > 0.05:
                    late = rng.choice((-10, -5, -3, 0, 2, 12)) if rng.random() < 0.9 else 35
                    s.add(ClockRecord(staff_id=st.id, kind="in", at=start + timedelta(minutes=late)))
                    s.add(ClockRecord(staff_id=st.id, kind="out", at=start + timedelta(hours=hours, minutes=rng.randrange(0, 15))))
                elif offset == 0 and start <= now < start + timedelta(hours=hours):
                    # today's running shift is clocked in, so the demo has technicians on
                    # duty for work orders opened by alarms
                    s.add(ClockRecord(staff_id=st.id, kind="in", at=start + timedelta(minutes=rng.choice((-5, 0, 3)))))
    return n


def seed_assets(s: Session, site: Any, prop: Property, now: datetime) -> int:
    """An asset for every piece of site equipment that has none yet (idempotent)."""
    have = set(s.scalars(select(Asset.equipment_id).where(Asset.equipment_id.is_not(None))))
    buildings = {b.code: b.id for b in s.scalars(select(Building))}
    n = 0
    for i, eq in enumerate(site.equipment):
        if eq.id in have:
            continue
        maker, model, importance, price = EQUIPMENT_MAKERS.get(eq.equipment_class,
                                                               ("—", eq.template, "normal", Decimal("10000.00")))
        bought = date(2019, 3, 1) + timedelta(days=(i * 37) % 700)
        s.add(Asset(property_id=prop.id, building_id=buildings.get(eq.building), code=f"EQ-{eq.id}", name=eq.name,
                    category=eq.equipment_class, model=model, manufacturer=maker, serial_no=f"SN{2019000 + i * 7919}",
                    spec=str(dict(eq.parameters))[:1000] if eq.parameters else "", purchase_date=bought,
                    purchase_price=price, warranty_end=bought + timedelta(days=5 * 365), area=eq.area or "",
                    importance=importance, status="in_service", equipment_id=eq.id,
                    documents=[{"title": "O&M manual", "uri": f"docs://equipment/{eq.template}/manual.pdf"}]))
        n += 1
    if n:
        s.flush()
        record(s, "system", "seed", "assets", prop.code, None, {"assets": n}, now)
    return n


def seed_users(s: Session, hasher, prop: Property, users: list[dict], now: datetime) -> list[dict]:
    """Create the configured demo users that do not exist yet; returns what to print."""
    out = []
    for cfg in users:
        grants = []
        unit_id = None
        if cfg.get("unit"):
            bcode, ucode = cfg["unit"].split("/", 1)
            unit_id = s.scalar(select(Unit.id).join(Building, Unit.building_id == Building.id)
                               .where(Building.code == bcode, Unit.code == ucode))
        for role, scope in cfg["grants"]:
            if scope == "unit":
                if unit_id is None:
                    continue
                scope = f"unit:{unit_id}"
            grants.append((role, scope))
        existing = s.scalar(select(User).where(User.username == cfg["username"]))
        if existing is None:
            person_id = None
            if unit_id is not None:
                person_id = s.scalar(select(Residency.person_id).where(Residency.unit_id == unit_id,
                                                                       Residency.moved_out.is_(None)))
            create_user(s, hasher, username=cfg["username"], password=cfg["password"], actor="system", now=now,
                        display_name=cfg.get("display_name") or "", grants=grants, person_id=person_id)
        out.append({"username": cfg["username"], "password": cfg["password"],
                    "grants": [f"{r}@{sc}" for r, sc in grants]})
    return out


__all__ = ["sync_site", "seed_demo", "seed_assets", "seed_users", "RoleGrant"]
