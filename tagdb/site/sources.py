"""Finding a site's YAML files and gathering their top-level keys.

A site is one YAML file or a folder of ``*.yaml`` / ``*.yml`` files (not
sub-folders), read in name order. ``buildings``, ``equipment``, ``tags`` and
``tag_files`` (lists) and ``devices`` and ``templates`` (mappings) may be split
across files; every other top-level key may appear in one file only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .core_schema import MERGED_LISTS, MERGED_MAPS
from .envsubst import secrets_of
from .errors import ConfigError, Loc
from .located import LDict, load_yaml


@dataclass
class Chunk:
    """One top-level key's value as written in one file."""

    file: Path
    key_loc: Loc
    value: Any


@dataclass
class Sources:
    """Every top-level key of a site with the chunks (one per file) that define it."""

    root: Path                                  # the site folder (or the single file's folder)
    files: list[str] = field(default_factory=list)
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    #: clear text of every value taken from the environment -> the text shown instead
    secrets: dict[str, str] = field(default_factory=dict)


def site_files(path: str | Path) -> tuple[Path, list[Path], list[ConfigError]]:
    """The site folder and the YAML files making up the site at ``path``."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in (".yaml", ".yml"))
        if not files:
            return p, [], [ConfigError(Loc(str(p)), "", "no *.yaml files in this site folder")]
        return p, files, []
    if p.is_file():
        return p.parent, [p], []
    return p.parent, [], [ConfigError(Loc(str(p)), "", "no such file or folder")]


def read_sources(path: str | Path, env: Mapping[str, str] | None = None) -> tuple[Sources, list[ConfigError]]:
    """Parse every file of the site; report bad YAML and keys defined twice.

    ``${NAME}`` references are replaced from ``env`` (default: the process environment).
    """
    root, files, errors = site_files(path)
    sources = Sources(root=root, files=[str(f) for f in files])
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ConfigError(Loc(str(f)), "", f"cannot read: {exc}"))
            continue
        data, errs = load_yaml(text, str(f), env=env)
        errors += errs
        sources.secrets.update(secrets_of(data))
        if data is None:
            continue                               # an empty file (or one that failed to parse)
        if not isinstance(data, LDict):
            errors.append(ConfigError(Loc(str(f), 1), "", "a site file must be a mapping of top-level keys"))
            continue
        for key, value in data.items():
            loc = data.loc_of(key)
            if not isinstance(key, str):
                errors.append(ConfigError(loc, str(key), "top-level keys must be names"))
                continue
            earlier = sources.chunks.setdefault(key, [])
            if earlier and key not in MERGED_LISTS and key not in MERGED_MAPS:
                errors.append(ConfigError(loc, key, f"is also defined at {earlier[0].key_loc}; only "
                                          f"{', '.join(MERGED_LISTS + MERGED_MAPS)} may be split across files"))
                continue
            earlier.append(Chunk(f, loc, value))
    return sources, errors
