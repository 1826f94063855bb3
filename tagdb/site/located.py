"""YAML loading that remembers where every key and list item came from.

PyYAML silently keeps the last of two equal keys; a site file with a duplicated
key is almost always a copy-paste mistake, so it is reported as an error.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ConfigError, Loc


class LDict(dict):
    """A dict that knows its own location and the location of each key."""

    loc: Loc
    key_locs: dict

    def loc_of(self, key: Any) -> Loc:
        """Location of ``key`` in the file, or of the mapping itself when absent."""
        return self.key_locs.get(key, self.loc)


class LList(list):
    """A list that knows its own location and the location of each item."""

    loc: Loc
    item_locs: list

    def loc_of(self, index: int) -> Loc:
        """Location of item ``index``, or of the list itself."""
        return self.item_locs[index] if 0 <= index < len(self.item_locs) else self.loc


def make_ldict(items: dict, loc: Loc, key_locs: dict | None = None) -> LDict:
    """Build an LDict by hand (used for CSV rows, which have a line but no YAML)."""
    d = LDict(items)
    d.loc = loc
    d.key_locs = dict(key_locs or {k: loc for k in items})
    return d


def make_llist(items: list, loc: Loc, item_locs: list | None = None) -> LList:
    """Build an LList by hand."""
    lst = LList(items)
    lst.loc = loc
    lst.item_locs = list(item_locs or [loc] * len(items))
    return lst


# libyaml's parser is ~10x faster than PyYAML's pure-Python one on large tag lists; the
# constructors below are the same for both, and both keep node line numbers.
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _loader_for(filename: str, errors: list, dups: list | None = None):
    class Loader(_BASE_LOADER):
        pass

    def mark(node) -> Loc:
        return Loc(filename, node.start_mark.line + 1)

    def construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        d = LDict()
        d.loc = mark(node)
        d.key_locs = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                errors.append(ConfigError(mark(key_node), "", "a mapping key must be a plain value"))
                continue
            if key in d:
                if dups is not None:       # named by its dotted field once the whole tree exists
                    dups.append((d, key, mark(key_node), d.key_locs[key].line))
                else:
                    errors.append(ConfigError(mark(key_node), str(key),
                                              f"duplicate key (first at line {d.key_locs[key].line})"))
                continue
            d[key] = loader.construct_object(value_node, deep=True)
            d.key_locs[key] = mark(key_node)
        return d

    def construct_sequence(loader, node, deep=False):
        lst = LList(loader.construct_object(child, deep=True) for child in node.value)
        lst.loc = mark(node)
        lst.item_locs = [mark(child) for child in node.value]
        return lst

    def construct_timestamp(loader, node):
        # PyYAML raises a bare ValueError (no line) for a date like 2026-13-01;
        # report it where it is and keep the text so the rest still validates.
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError as exc:
            errors.append(ConfigError(mark(node), "", f"invalid date or time {node.value!r}: {exc}"))
            return node.value

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    return Loader


def load_yaml(text: str, filename: str) -> tuple[Any, list[ConfigError]]:
    """Parse YAML text into LDict/LList trees; syntax errors come back as ConfigErrors."""
    errors: list[ConfigError] = []
    dups: list = []
    try:
        data = yaml.load(text, Loader=_loader_for(filename, errors, dups))  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        line = m.line + 1 if m else 0
        return None, [ConfigError(Loc(filename, line), "", f"invalid YAML: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, [ConfigError(Loc(filename), "", f"invalid YAML: {exc}")]
    if dups:
        paths = _field_paths(data)
        for d, key, loc, first in dups:
            parent = paths.get(id(d), "")
            field = f"{parent}.{key}" if parent else str(key)
            errors.append(ConfigError(loc, field, f"duplicate key (first at line {first})"))
    return data, errors


def _field_paths(data: Any) -> dict[int, str]:
    """id(mapping) -> its dotted field (``devices.plc-1``, ``tags[3]``) in the tree ``data``."""
    paths: dict[int, str] = {}
    stack = [(data, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if id(node) in paths:
                continue                        # an alias of a node already named
            paths[id(node)] = path
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return paths
