"""Who writes which tag: one control writer per tag unless the site declares the arbitration.

A control *writer* is an object that commands a tag on its own initiative:

* a loop writes its ``out`` every cycle;
* a schedule writes each of its ``targets``;
* a rule writes the tag of each ``write`` step of ``do`` and ``else``;
* a rotation writes each member's ``command``.

Two writers on one tag fight (a schedule switching a fan off that a sequence
just started, a rule opening a valve that a loop closes again a second later),
so :func:`check_writers` reports each extra writer as a configuration error,
unless ``control.shared_writes`` names the tag, lists exactly the writers that
share it and says why they cannot fight. A loop may share its output only when
it has a ``track`` condition (it follows the other writer while that holds).

Interlocks are not writers: they refuse writes, and win over every writer
(loops included, see :mod:`control.loops`), so an interlock guarding a loop's
output is priority by design, never a conflict. Operators are not writers
either: they command through the same command path at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from tagdb.site.errors import ConfigError, Loc

KINDS = ("loop", "schedule", "rule", "rotation")


@dataclass(frozen=True)
class Writer:
    """One control object writing one tag, and where the config says so."""

    kind: str          # loop | schedule | rule | rotation
    name: str
    path: str
    loc: Loc
    field: str         # e.g. control.rules.barrier-1-open.do[0].write

    @property
    def ref(self) -> str:
        """How ``shared_writes`` (and the command audit's ``source``) names it: ``kind:name``."""
        return f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.loc})"


def writers(section: Mapping[str, Any], default: Loc) -> Iterator[Writer]:
    """Every (writer, tag) pair of a validated ``control:`` section, in config order."""
    for name, loop in (section.get("loops") or {}).items():
        if loop.get("out") is not None:
            yield Writer("loop", name, loop["out"], _key_loc(loop, "out", default), f"control.loops.{name}.out")
    for name, sch in (section.get("schedules") or {}).items():
        locs = (sch.get("_item_locs") or {}).get("targets") or []
        for i, target in enumerate(sch.get("targets") or []):
            loc = locs[i] if i < len(locs) else _key_loc(sch, "targets", default)
            yield Writer("schedule", name, target, loc, f"control.schedules.{name}.targets[{i}]")
    for name, rule in (section.get("rules") or {}).items():
        for key in ("do", "else"):
            for i, step in enumerate(rule.get(key) or []):
                if step and step.get("write"):
                    yield Writer("rule", name, step["write"], step.get("_loc") or _key_loc(rule, key, default),
                                 f"control.rules.{name}.{key}[{i}].write")
    for name, rot in (section.get("rotations") or {}).items():
        for i, member in enumerate(rot.get("members") or []):
            yield Writer("rotation", name, member["command"], _key_loc(member, "command", default),
                         f"control.rotations.{name}.members[{i}].command")


def check_writers(section: Mapping[str, Any], default: Loc) -> list[ConfigError]:
    """A ConfigError for each tag with more than one control writer not declared in ``shared_writes``."""
    by_path: dict[str, dict[str, Writer]] = {}
    for w in writers(section, default):
        by_path.setdefault(w.path, {}).setdefault(w.ref, w)   # a rule writing a tag twice is one writer
    shared = section.get("shared_writes") or {}
    errors = _check_declarations(section, shared, by_path, default)
    for path, found in by_path.items():
        if len(found) < 2:
            continue
        declared = shared.get(path)
        allowed = set(declared["writers"]) if declared else set()
        ordered = sorted(found.values(), key=lambda w: (w.loc.file, w.loc.line))
        first = next((w for w in ordered if w.ref in allowed), ordered[0])
        for w in ordered:
            if w is first or w.ref in allowed:
                continue
            if declared:
                why = (f"tag {path!r} is written by {w} and by {first}, but control.shared_writes "
                       f"lists only {', '.join(declared['writers'])} for it: add {w.ref} there "
                       f"(with the reason they cannot fight) or remove the write")
            else:
                why = (f"tag {path!r} has two control writers, {first} and {w}: they would fight over it. "
                       f"Keep one writer (command a loop through _system/control/loops/<name>/mode or out, "
                       f"drive a sequence from a control input), or declare the arbitration under "
                       f"control.shared_writes")
            errors.append(ConfigError(w.loc, w.field, why))
    return errors


def _check_declarations(section: Mapping[str, Any], shared: Mapping[str, Any],
                        by_path: Mapping[str, Mapping[str, Writer]], default: Loc) -> list[ConfigError]:
    """Each ``shared_writes`` entry names real writers of its tag (a stale one is an error)."""
    errors: list[ConfigError] = []
    for path, entry in shared.items():
        f = f"control.shared_writes.{path}"
        locs = (entry.get("_item_locs") or {}).get("writers") or []
        actual = by_path.get(path, {})
        seen: set[str] = set()
        for i, ref in enumerate(entry["writers"]):
            loc = locs[i] if i < len(locs) else _key_loc(entry, "writers", default)
            field = f"{f}.writers[{i}]"
            kind, name = ref.split(":", 1)
            objects = section.get(f"{kind}s") or {}
            if ref in seen:
                errors.append(ConfigError(loc, field, f"{ref} is listed twice"))
            elif name not in objects:
                known = ", ".join(sorted(objects)) or "none"
                errors.append(ConfigError(loc, field, f"unknown {kind} {name!r} (known: {known})"))
            elif ref not in actual:
                others = ", ".join(sorted(actual)) or "no control writer"
                errors.append(ConfigError(loc, field, f"{kind} {name} does not write {path!r} "
                                                      f"(written by {others}): remove the stale entry"))
            elif kind == "loop" and objects[name].get("track") is None:
                errors.append(ConfigError(loc, field, (
                    f"loop {name} writes {path!r} every cycle and would override the other writers: give it a "
                    f"track condition (true while another writer owns the output; it follows and resumes "
                    f"bumplessly), or command it through _system/control/loops/{name}/mode and out")))
            seen.add(ref)
    return errors


def _key_loc(item: Mapping[str, Any], key: str, default: Loc) -> Loc:
    return (item.get("_key_locs") or {}).get(key) or item.get("_loc") or default
