"""YAML loading that remembers where every key and list item came from.

PyYAML silently keeps the last of two equal keys; a site file with a duplicated
key is almost always a copy-paste mistake, so it is reported as an error.
"""

from __future__ import annotations

from typing import Any, Mapping

import yaml

from .envsubst import EnvStr, field_text, has_reference, resolve_env, substitute
from .errors import ConfigError, EnvReferenceError, Loc


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


# What an unquoted scalar may turn into after substitution: as if the value were typed there.
_RETYPED = {"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


def _loader_for(filename: str, errors: list, dups: list | None = None, env: Mapping[str, str] | None = None,
                env_problems: list | None = None):
    class Loader(_BASE_LOADER):
        pass

    def mark(node) -> Loc:
        return Loc(filename, node.start_mark.line + 1)

    # Problems of the scalar just constructed; the mapping/sequence that holds it claims them,
    # because only the finished tree knows the scalar's dotted field.
    pending: list[tuple[Loc, str]] = []

    def claim(container, key, is_key: bool = False) -> None:
        if pending and env_problems is not None:
            env_problems.extend((container, key, loc, msg, is_key) for loc, msg in pending)
        pending.clear()

    def construct_str(loader, node):
        text = loader.construct_scalar(node)
        if env is None or not has_reference(text):
            return text
        sub = substitute(text, env)
        if sub.problems:
            pending.extend((mark(node), p) for p in sub.problems)
            return text                 # left as written: no secret in it, and no follow-on type errors
        value: Any = sub.value
        if not node.style:              # unquoted (libyaml says "", PyYAML None): typed as if written there
            tag = loader.resolve(yaml.ScalarNode, value, (True, False))
            if tag in _RETYPED:
                return loader.yaml_constructors[tag](loader, yaml.ScalarNode(tag, value, node.start_mark,
                                                                             node.end_mark))
        return EnvStr(value, text, sub.exported, sub.from_env)

    def construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        d = LDict()
        d.loc = mark(node)
        d.key_locs = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            claim(d, key, True)
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
            claim(d, key)
        return d

    def construct_sequence(loader, node, deep=False):
        lst = LList()
        for child in node.value:
            lst.append(loader.construct_object(child, deep=True))
            claim(lst, len(lst) - 1)
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
    Loader.add_constructor("tag:yaml.org,2002:str", construct_str)
    Loader.pending = pending
    return Loader


def load_yaml(text: str, filename: str, *, env: Mapping[str, str] | None = None,
              substitute_env: bool = True) -> tuple[Any, list[ConfigError]]:
    """Parse YAML text into LDict/LList trees; syntax errors come back as ConfigErrors.

    ``${NAME}`` references in string scalars are replaced from ``env`` (default: the
    process environment) unless ``substitute_env`` is false; an unset variable without
    a default is an error naming its file, line and field.
    """
    errors: list[ConfigError] = []
    dups: list = []
    env_problems: list = []
    env_map = resolve_env(env) if substitute_env else None
    loader = _loader_for(filename, errors, dups, env_map, env_problems)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        line = m.line + 1 if m else 0
        return None, [ConfigError(Loc(filename, line), "", f"invalid YAML: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, [ConfigError(Loc(filename), "", f"invalid YAML: {exc}")]
    env_problems.extend((None, None, loc, msg, False) for loc, msg in loader.pending)  # a bare scalar document
    if dups or env_problems:
        paths = _field_paths(data)
        for d, key, loc, first in dups:
            parent = paths.get(id(d), "")
            field = f"{parent}.{field_text(key)}" if parent else field_text(key)
            errors.append(ConfigError(loc, field, f"duplicate key (first at line {first})"))
        for container, key, loc, msg, is_key in env_problems:
            errors.append(EnvReferenceError(loc, _child_field(paths, container, key),
                                            f"{'key: ' if is_key else ''}{msg}"))
    return data, errors


def _child_field(paths: dict[int, str], container: Any, key: Any) -> str:
    """The dotted field of ``container[key]`` (``""`` for a document that is a bare scalar)."""
    if container is None:
        return ""
    parent = paths.get(id(container), "")
    if isinstance(container, list):
        return f"{parent}[{key}]"
    return f"{parent}.{field_text(key)}" if parent else field_text(key)


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
            stack.extend((v, f"{path}.{field_text(k)}" if path else field_text(k)) for k, v in node.items())
        elif isinstance(node, list):
            if id(node) in paths:
                continue
            paths[id(node)] = path
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return paths
