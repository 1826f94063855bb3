"""Loading a site: YAML files (and CSV tag lists) → one validated, frozen :class:`SiteModel`.

``check_site`` returns every error at once; ``load_site`` raises them together as a
:class:`SiteConfigError`. The format is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping

from . import sections as section_registry
from .build import check_alarm_rules, check_device, make_tag, tag_device_errors
from .core_schema import (BUILDING, CORE_KEYS, DEVICE_NAME_PATTERN, EQUIPMENT, NAME_PATTERN, TAG, TEMPLATE,
                          yaml_where)
from .csvio import read_tags_csv
from .envsubst import field_text, redact
from .equipment import TagEntry, Template, instantiate
from .errors import ConfigError, EnvReferenceError, Loc, SiteConfigError
from .model import Area, Building, DeviceSpec, Equipment, SiteModel
from .schema import _tname, did_you_mean
from .sources import Sources, read_sources
from .templates import check_placeholders, expand_count

log = logging.getLogger(__name__)
_NAMES = {"devices": re.compile(DEVICE_NAME_PATTERN), "templates": re.compile(NAME_PATTERN)}


def load_site(path: str | Path, *, env: Mapping[str, str] | None = None) -> SiteModel:
    """The validated site at ``path`` (a YAML file or a folder of them); raises SiteConfigError.

    ``env`` answers ``${NAME}`` references in the YAML (default: the process environment).
    """
    site, errors = check_site(path, env=env)
    if errors or site is None:
        raise SiteConfigError(errors)
    return site


def check_site(path: str | Path, *, extra_tag_files: Iterable[str | Path] = (),
               skip_tag_files: Iterable[str | Path] = (),
               env: Mapping[str, str] | None = None) -> tuple[SiteModel | None, list[ConfigError]]:
    """(site, []) when valid, else (None, every error sorted by file and line).

    ``extra_tag_files`` are CSV tag lists loaded as if listed in ``tag_files`` and
    ``skip_tag_files`` are left out (``spms tags import`` checks a new list this way).
    ``env`` answers ``${NAME}`` references in the YAML (default: ``os.environ``); no
    error message shows a value taken from it.
    """
    sources, errors = read_sources(path, env)
    loader = _Loader(sources, errors)
    site = loader.run([Path(p) for p in extra_tag_files], {Path(p).resolve() for p in skip_tag_files})
    errors = _unique(_without_env_echo(loader.errors, sources.secrets), sources.files)
    return (None, errors) if errors else (site, [])


def _without_env_echo(errors: list[ConfigError], secrets: dict[str, str]) -> list[ConfigError]:
    """Errors minus the follow-ons of unset variables, with substituted values hidden.

    A field whose variable is unset keeps its ``${NAME}`` text, which its schema would then
    refuse too; the unset variable is the one error worth reading. The values themselves
    are shown only as written (``${DB_PASSWORD}``), whichever package formatted the message.
    """
    unset = [(e.loc.file, e.field) for e in errors if isinstance(e, EnvReferenceError)]
    out = []
    for e in errors:
        if unset and not isinstance(e, EnvReferenceError) and any(
                e.loc.file == f and (e.field == fld or e.field.startswith((fld + ".", fld + "[")))
                for f, fld in unset):
            continue
        if secrets:
            e = dataclasses.replace(e, field=redact(e.field, secrets), message=redact(e.message, secrets))
        out.append(e)
    return out


def _unique(errors: list[ConfigError], files: list[str]) -> list[ConfigError]:
    """Errors without repeats, in site file order (then CSV lists and the rest), by line."""
    seen, out = set(), []
    for e in errors:
        if e not in seen:
            seen.add(e)
            out.append(e)
    order = {f: i for i, f in enumerate(files)}
    for e in out:
        order.setdefault(e.loc.file, len(order))
    return sorted(out, key=lambda e: (order[e.loc.file], e.loc.line))


class _Loader:
    """One pass over a site's sources; collects errors instead of stopping at the first."""

    def __init__(self, sources: Sources, errors: list[ConfigError]):
        self.src = sources
        self.errors = errors
        # Names whose definition has errors: references to them are not reported again.
        self.broken_devices: set[str] = set()
        self.broken_templates: set[str] = set()
        self.broken_buildings: set[str] = set()

    # -- raw chunks -----------------------------------------------------------------------------
    def _list_items(self, key: str, item_schema, broken: set | None = None) -> Iterator[tuple[dict, Any, str]]:
        """(clean, raw, field) of every valid item of the list key; ids of invalid ones go to ``broken``."""
        for chunk in self.src.chunks.get(key, []):
            if chunk.value is None:
                continue
            if not isinstance(chunk.value, list):
                self.errors.append(ConfigError(chunk.key_loc, key, f"expected a list, got {_tname(chunk.value)}"))
                continue
            for i, raw in enumerate(chunk.value):
                fld = f"{key}[{i}]"
                clean, errs = item_schema.check(raw, fld, chunk.value.loc_of(i))
                self.errors.extend(errs)
                if not errs:
                    yield clean, raw, fld
                elif broken is not None and isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    broken.add(raw["id"])

    def _map_items(self, key: str) -> Iterator[tuple[str, Any, str, Loc]]:
        """(name, raw value, field, loc) of every entry of the mapping key across files."""
        first: dict[str, Loc] = {}
        for chunk in self.src.chunks.get(key, []):
            if chunk.value is None:
                continue
            if not isinstance(chunk.value, dict):
                self.errors.append(ConfigError(chunk.key_loc, key, f"expected a mapping, got {_tname(chunk.value)}"))
                continue
            for name, raw in chunk.value.items():
                loc, fld = chunk.value.loc_of(name), f"{key}.{field_text(name)}"
                errs = [] if isinstance(name, str) and _NAMES[key].fullmatch(name) else \
                    [ConfigError(loc, fld, f"invalid name {name!r} (letters, digits, '_', '-', '.'"
                                           f"{', segments separated by /' if key == 'devices' else ''})")]
                if not errs and name in first:
                    errs = [ConfigError(loc, fld, f"is also defined at {first[name]}")]
                self.errors.extend(errs)
                if not errs:
                    first[name] = loc
                    yield name, raw, fld, loc

    # -- the parts of a site ------------------------------------------------------------------
    def site_header(self) -> dict | None:
        """The validated ``site:`` mapping (name, timezone, data_dir), or None."""
        chunks = self.src.chunks.get("site", [])
        if not chunks:
            where = Loc(self.src.files[0]) if self.src.files else Loc(str(self.src.root))
            if self.src.files:
                self.errors.append(ConfigError(where, "site", "is required (site: {name, timezone})"))
            return None
        clean, errs = CORE_KEYS["site"].check(chunks[0].value, "site", chunks[0].key_loc)
        self.errors.extend(errs)
        return None if errs else clean

    def buildings(self) -> dict[str, Building]:
        """Buildings by id, with unique ids and unique area ids per building."""
        out: dict[str, Building] = {}
        first: dict[str, Loc] = {}
        for b, raw, fld in self._list_items("buildings", BUILDING, self.broken_buildings):
            if b["id"] in first:
                self.errors.append(ConfigError(raw.loc_of("id"), f"{fld}.id",
                                               f"duplicate building id {b['id']!r} (also at {first[b['id']]})"))
                continue
            first[b["id"]] = raw.loc_of("id")
            areas, seen = [], set()
            for j, a in enumerate(b["areas"]):
                if a["id"] in seen:
                    aloc = raw["areas"].loc_of(j)
                    self.errors.append(ConfigError(aloc, f"{fld}.areas[{j}].id", f"duplicate area id {a['id']!r}"))
                seen.add(a["id"])
                areas.append(Area(a["id"], a["name"]))
            out[b["id"]] = Building(b["id"], b["name"], b["use"], b["floors"], b["basement_floors"], tuple(areas))
        return out

    def devices(self, building_ids: set[str]) -> dict[str, DeviceSpec]:
        """Named devices (options checked by the collectors hook)."""
        out = {}
        for name, raw, fld, loc in self._map_items("devices"):
            spec, errs = check_device(name, raw, fld, loc, building_ids)
            self.errors.extend(errs)
            if spec is not None:
                out[name] = spec
            else:
                self.broken_devices.add(name)
        return out

    def templates(self) -> dict[str, Template]:
        """Valid templates by name: placeholders, tag names and alarm rules checked."""
        out = {}
        for name, raw, fld, loc in self._map_items("templates"):
            clean, errs = TEMPLATE.check(raw, fld, loc)
            if not errs:
                errs = check_placeholders(raw, fld, loc, set(clean["parameters"]))
            if not errs:
                tpl = Template(name, clean, raw, fld)
                seen: dict[str, int] = {}
                for j, t in enumerate(clean["tags"]):
                    traw = raw["tags"][j]
                    if t["name"] in seen:
                        errs.append(ConfigError(traw.loc_of("name"), f"{fld}.tags[{j}].name",
                                                f"duplicate tag name {t['name']!r} (also tags[{seen[t['name']]}])"))
                    seen[t["name"]] = j
                    rules, e = check_alarm_rules(traw.get("alarms"), f"{fld}.tags[{j}].alarms", traw.loc_of("alarms"))
                    errs += e
                    tpl.tag_alarms.append(rules)
                tpl.alarms, e = check_alarm_rules(raw.get("alarms"), f"{fld}.alarms", raw.loc_of("alarms"),
                                                  "EQUIPMENT_RULE")
                errs += e
            self.errors.extend(errs)
            if not errs:
                out[name] = tpl
            else:
                self.broken_templates.add(name)
        return out

    def equipment(self, templates, buildings, devices) -> tuple[list[Equipment], dict[str, DeviceSpec], list[TagEntry]]:
        """Instances of every ``equipment:`` entry, the devices they own, and their tags."""
        equipment, inline, tags = [], {}, []
        first: dict[str, Loc] = {}
        for clean, raw, fld in self._list_items("equipment", EQUIPMENT):
            items, errs = expand_count(raw, clean, fld)
            self.errors.extend(errs)
            for item, _ in items:
                dev = item["device"]
                if (item["template"] in self.broken_templates or item["building"] in self.broken_buildings
                        or (isinstance(dev, str) and dev in self.broken_devices)):
                    continue
                if item["id"] in first:
                    self.errors.append(ConfigError(raw.loc_of("id"), f"{fld}.id", f"duplicate equipment id "
                                                   f"{item['id']!r} (also at {first[item['id']]})"))
                    continue
                first[item["id"]] = raw.loc_of("id")
                inst, errs = instantiate(item, raw, fld, templates, buildings, devices)
                self.errors.extend(errs)
                if inst is None:
                    continue
                equipment.append(inst.equipment)
                if inst.device is not None and inst.device.name in devices:
                    self.errors.append(ConfigError(raw.loc_of("id"), f"{fld}.id", f"its own device would be "
                                                   f"named {inst.device.name!r} like the device at "
                                                   f"{devices[inst.device.name].loc}"))
                elif inst.device is not None:
                    inline[inst.device.name] = inst.device
                tags += inst.tags
        return equipment, inline, tags

    def explicit_tags(self) -> list[TagEntry]:
        """The tags of the ``tags:`` lists."""
        out = []
        for t, raw, fld in self._list_items("tags", TAG):
            alarms, errs = check_alarm_rules(raw.get("alarms"), f"{fld}.alarms", raw.loc_of("alarms"))
            self.errors.extend(errs)
            if not errs:
                out.append(TagEntry(make_tag(t, t["path"], t["device"], None, raw.loc, alarms), yaml_where(fld, raw)))
        return out

    def tag_file_paths(self, extra: list[Path], skip: set[Path]) -> list[tuple[Path, str]]:
        """(path, name shown in errors) of every CSV tag list, each once."""
        files: list[tuple[Path, str]] = []
        seen: dict[Path, Loc] = {}
        for chunk in self.src.chunks.get("tag_files", []):
            clean, errs = CORE_KEYS["tag_files"].check(chunk.value, "tag_files", chunk.key_loc)
            self.errors.extend(errs)
            for i, name in enumerate(clean or []):
                if name is None:
                    continue
                p = chunk.file.parent / name
                if p.resolve() in skip:
                    continue
                loc = chunk.value.loc_of(i)
                if not p.is_file():
                    self.errors.append(ConfigError(loc, f"tag_files[{i}]", f"no such file: {p}"))
                    continue
                if p.resolve() in seen:
                    self.errors.append(ConfigError(loc, f"tag_files[{i}]", f"{name} is already listed at "
                                                                           f"{seen[p.resolve()]}"))
                    continue
                seen[p.resolve()] = loc
                files.append((p, str(p)))
        return files + [(p, str(p)) for p in extra]

    def csv_tags(self, files: list[tuple[Path, str]]) -> list[TagEntry]:
        """The good rows of every CSV tag list."""
        out = []
        for path, display in files:
            rows, errs = read_tags_csv(path, display)
            self.errors.extend(errs)
            out += [TagEntry(make_tag(r.tag, r.path, r.device, None, r.loc), r.where) for r in rows]
        return out

    def sections(self) -> dict[str, tuple[Any, Any, Loc]]:
        """{key: (clean value, module, key location)} for every valid non-core top-level key."""
        out = {}
        for key, chunks in self.src.chunks.items():
            if key in CORE_KEYS:
                continue
            loc = chunks[0].key_loc
            if key not in section_registry.SECTIONS:
                known = sorted(set(CORE_KEYS) | set(section_registry.SECTIONS))
                self.errors.append(ConfigError(loc, key, f"unknown top-level key{did_you_mean(key, known)} "
                                                         f"(known: {', '.join(known)})"))
                continue
            try:
                module = section_registry.section_module(key)
            except section_registry.SectionUnavailable as exc:
                self.errors.append(ConfigError(loc, key, str(exc)))
                continue
            try:
                clean, errs = module.SECTION.check(chunks[0].value, key, loc)
            except Exception as exc:  # a bug in another package's schema must not hide the other errors
                log.exception("schema of section %r raised", key)
                clean, errs = None, [ConfigError(loc, key, f"{module.__name__}.SECTION failed: {exc!r} (a bug)")]
            self.errors.extend(errs)
            if not errs:
                out[key] = (clean, module, loc)
        return out

    # -- everything ---------------------------------------------------------------------------
    def run(self, extra_tag_files: list[Path], skip: set[Path]) -> SiteModel | None:
        """Check everything, then build the model (None when even the ``site:`` header is bad)."""
        header = self.site_header()
        buildings = self.buildings()
        devices = self.devices(set(buildings) | self.broken_buildings)
        templates = self.templates()
        equipment, inline, eq_tags = self.equipment(templates, buildings, devices)
        all_devices = {**devices, **inline}
        tag_files = self.tag_file_paths(extra_tag_files, skip)
        entries = eq_tags + self.explicit_tags() + self.csv_tags(tag_files)
        first: dict[str, TagEntry] = {}
        for e in entries:
            if e.spec.path in first:
                self.errors.append(e.where("path", f"duplicate tag path {e.spec.path!r} "
                                                   f"(also defined at {first[e.spec.path].spec.loc})"))
                continue
            first[e.spec.path] = e
            if e.spec.device not in self.broken_devices:
                self.errors.extend(tag_device_errors(e.spec, all_devices, e.where))
        sections = self.sections()
        if header is None:
            return None
        data_dir = Path(header["data_dir"])
        site = SiteModel(
            name=header["name"], timezone=header["timezone"],
            files=tuple(self.src.files) + tuple(d for _, d in tag_files),     # YAML, then CSV tag lists
            buildings=tuple(buildings.values()), devices=MappingProxyType(all_devices),
            tags=tuple(e.spec for e in first.values()), equipment=tuple(equipment),
            sections=MappingProxyType({k: v for k, (v, _, _) in sections.items()}),
            data_dir=str(data_dir if data_dir.is_absolute() else (self.src.root / data_dir).resolve()))
        for key, (_, module, loc) in sections.items():
            hook = getattr(module, "validate_site", None)
            if hook is None:
                continue
            try:
                self.errors.extend(hook(site))
            except Exception as exc:  # as above: report it as an error of that section
                log.exception("validate_site of section %r raised", key)
                self.errors.append(ConfigError(loc, key, f"{module.__name__}.validate_site failed: {exc!r} (a bug)"))
        return site

