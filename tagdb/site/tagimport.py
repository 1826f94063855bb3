"""Adding a CSV tag list to a site folder, all or nothing (``spms tags import``).

The list is checked as part of the whole site (devices, scan groups, addresses,
paths duplicated within the list or with the site's other tags). Only when the
site with the list has no error is the file copied into the site folder and
named in ``tag_files`` (in the managed file ``tag-files.yaml``, unless some site
file already lists it). Importing a file of the same name again replaces the copy.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from .errors import ConfigError, Loc
from .loader import check_site
from .sources import read_sources

TAG_FILES_YAML = "tag-files.yaml"
_HEADER = "# CSV tag lists of this site, maintained by `spms tags import` (edits are kept, comments are not).\n"


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _listed(site_dir: Path, dest: Path) -> bool:
    sources, _ = read_sources(site_dir)
    for chunk in sources.chunks.get("tag_files", []):
        for name in chunk.value if isinstance(chunk.value, list) else []:
            if isinstance(name, str) and (chunk.file.parent / name).resolve() == dest.resolve():
                return True
    return False


def _add_to_tag_files(site_dir: Path, name: str) -> None:
    managed = site_dir / TAG_FILES_YAML
    data = yaml.safe_load(managed.read_text(encoding="utf-8")) if managed.exists() else None
    data = data if isinstance(data, dict) else {}
    data["tag_files"] = list(data.get("tag_files") or []) + [name]
    _write_atomically(managed, (_HEADER + yaml.safe_dump(data, sort_keys=False)).encode("utf-8"))


def import_tag_file(csv_path: str | Path, site_dir: str | Path) -> tuple[list[ConfigError], str]:
    """(errors, what happened). Writes nothing unless the site with the new list is valid."""
    src, site = Path(csv_path), Path(site_dir)
    if not site.is_dir():
        return [ConfigError(Loc(str(site)), "", "the site must be a folder of YAML files")], "nothing written"
    if not src.is_file():
        return [ConfigError(Loc(str(src)), "", "no such file")], "nothing written"
    if src.suffix.lower() != ".csv":
        return [ConfigError(Loc(str(src)), "", "a tag list must be a .csv file")], "nothing written"
    dest = site / src.name
    model, errors = check_site(site, extra_tag_files=[src], skip_tag_files=[dest])
    if errors:
        return errors, f"{len(errors)} error(s); nothing written to {site}"
    count = sum(1 for t in model.tags if t.loc.file == str(src))
    if src.resolve() != dest.resolve():
        _write_atomically(dest, src.read_bytes())
    if not _listed(site, dest):
        _add_to_tag_files(site, src.name)
    return [], f"imported {count} tags from {src} into {dest}"
