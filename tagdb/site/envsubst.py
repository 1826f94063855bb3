"""Environment variable references in site YAML: ``${NAME}``, ``${NAME:-default}``, ``$${``.

Secrets (API tokens, device passwords, database URLs) belong in the environment, not
in files kept in version control. A string scalar (value or key) of a site file may
name environment variables; they are replaced while the YAML is read, so the schema
checks see the final values (see ``docs/configuration.md``, "Environment variables").

A scalar that took anything from the environment becomes an :class:`EnvStr`: a real
``str`` holding the value, which knows the text it was written as. Its ``repr`` and its
YAML dump show that text instead of the value, so validation messages and files that
spms writes (Grafana provisioning) carry ``${DB_PASSWORD}`` rather than the password.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import yaml

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `$${` first so that an escaped reference is never read as a reference.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)(\})?")
#: Substituted values shorter than this are hidden only where a message quotes them with
#: repr(); replacing e.g. "12" everywhere in a message would garble line numbers.
MIN_REDACT_LEN = 4


class EnvStr(str):
    """A string scalar that had ``${...}`` references (answered by the environment or defaults).

    ``written`` is the scalar as it stands in the file (``postgresql://u:${PG_PW}@db/x``);
    ``exported`` is the same in Grafana/compose provisioning syntax (defaults filled in,
    literal ``$`` doubled); ``env_values`` are the (name, value) pairs it took.
    """

    written: str
    exported: str
    env_values: tuple

    def __new__(cls, value: str = "", written: str | None = None, exported: str | None = None,
                env_values: tuple = ()):
        self = super().__new__(cls, value)
        self.written = value if written is None else written
        self.exported = self.written if exported is None else exported
        self.env_values = tuple(env_values)
        return self

    def __repr__(self) -> str:
        return repr(self.written)

    # Keeps "Token " + token an EnvStr (Python tries a subclass's reflected method first),
    # so a prefixed secret is still written as a reference.
    def __radd__(self, other):
        if not isinstance(other, str):
            return NotImplemented
        lit = str(other)
        return EnvStr(lit + str(self), lit + self.written, lit.replace("$", "$$") + self.exported, self.env_values)

    def __add__(self, other):
        if not isinstance(other, str):
            return NotImplemented
        if isinstance(other, EnvStr):
            return EnvStr(str(self) + str(other), self.written + other.written, self.exported + other.exported,
                          self.env_values + other.env_values)
        lit = str(other)
        return EnvStr(str(self) + lit, self.written + lit, self.exported + lit.replace("$", "$$"), self.env_values)

    def __reduce__(self):
        return EnvStr, (str(self), self.written, self.exported, self.env_values)


@dataclass(frozen=True)
class Substituted:
    """The outcome of substituting one scalar."""

    value: str
    from_env: tuple             # (name, value) of every reference the environment answered
    exported: str
    problems: tuple             # messages: unset variables, malformed references


def substitute(text: str, env: Mapping[str, str]) -> Substituted:
    """Replace the references in ``text``; unset ones become problems (and stay as written)."""
    out, exported, from_env, problems = [], [], [], []
    pos = 0
    for m in _TOKEN.finditer(text):
        lit = text[pos:m.start()]
        out.append(lit)
        exported.append(lit.replace("$", "$$"))
        pos = m.end()
        if m.group(0) == "$${":
            out.append("${")
            exported.append("$${")
            continue
        body = m.group(1)
        name, sep, default = body.partition(":-")
        if m.group(2) is None or not _NAME.fullmatch(name):
            problems.append(f"invalid environment reference {m.group(0)!r}: write ${{NAME}} or ${{NAME:-default}} "
                            f"(NAME of letters, digits and '_'), or $${{ for a literal ${{")
            out.append(m.group(0))
            exported.append(m.group(0).replace("$", "$$"))
            continue
        value = env.get(name)
        if value and sep or value is not None and not sep:
            out.append(value)
            exported.append(f"${{{name}}}")
            from_env.append((name, value))
        elif sep:
            out.append(default)
            exported.append(default.replace("$", "$$"))
        else:
            problems.append(f"environment variable {name} is not set (set it, or give a default: "
                            f"${{{name}:-default}})")
            out.append(m.group(0))
            exported.append(m.group(0))
    out.append(text[pos:])
    exported.append(text[pos:].replace("$", "$$"))
    return Substituted("".join(out), tuple(from_env), "".join(exported), tuple(problems))


def typed(value: Any) -> Any:
    """A quoted EnvStr as YAML would type its text unquoted (``"8080"`` -> 8080), else ``value``.

    Numeric and boolean fields call this, so ``port: "${PORT}"`` (quotes are needed inside
    ``{...}`` and ``[...]``) still gives an integer; a text that is no scalar of that kind
    stays a string and the field reports it.
    """
    if not isinstance(value, EnvStr):
        return value
    try:
        out = yaml.safe_load(str(value))
    except yaml.YAMLError:
        return value
    return out if isinstance(out, (bool, int, float)) else value


def has_reference(text: str) -> bool:
    """True when ``text`` may hold a reference or an escape (cheap test before parsing)."""
    return "${" in text


def resolve_env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    """The mapping to read variables from: ``env``, else the process environment."""
    return os.environ if env is None else env


def field_text(key: Any) -> str:
    """A mapping key as it appears in a field path: an EnvStr key shows as written."""
    return key.written if isinstance(key, EnvStr) else str(key)


def env_strings(data: Any) -> Iterator[EnvStr]:
    """Every EnvStr value and key in a loaded YAML tree."""
    stack, seen = [data], set()
    while stack:
        node = stack.pop()
        if isinstance(node, EnvStr):
            yield node
        elif isinstance(node, (dict, list)):
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, dict):
                stack.extend(node.keys())
                stack.extend(node.values())
            else:
                stack.extend(node)


def secrets_of(data: Any) -> dict[str, str]:
    """{clear text: text shown instead} for every value taken from the environment in ``data``."""
    out: dict[str, str] = {}
    for s in env_strings(data):
        if not s.env_values:
            continue                    # defaults only: nothing in it that the file does not show
        out[str(s)] = s.written
        for name, value in s.env_values:
            out.setdefault(value, f"${{{name}}}")
    return out


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """``text`` with every substituted value (of MIN_REDACT_LEN characters or more) replaced."""
    if not text:
        return text
    for clear in sorted(secrets, key=len, reverse=True):   # whole scalars before their parts
        if len(clear) >= MIN_REDACT_LEN and clear in text:
            text = text.replace(clear, secrets[clear])
    return text


def _represent(dumper, data: EnvStr):
    # Files spms writes get the reference, never the secret: Grafana provisioning expands
    # ${NAME} from its own environment, and "$$" is its escape for a literal "$".
    return dumper.represent_scalar("tag:yaml.org,2002:str", data.exported)


for _dumper in (yaml.SafeDumper, yaml.Dumper, getattr(yaml, "CSafeDumper", None), getattr(yaml, "CDumper", None)):
    if _dumper is not None:
        yaml.add_representer(EnvStr, _represent, Dumper=_dumper)
