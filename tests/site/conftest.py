"""Fixtures for site tests: small site folders in tmp_path and their errors relative to it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tagdb.site.loader import check_site

BASE = """\
site: {name: Test, timezone: UTC}
buildings:
  - id: tower-a
    name: Tower A
    areas: [{id: roof, name: Roof}]
devices:
  plc-1:
    protocol: modbus
    endpoint: tcp://127.0.0.1:5020
    scan_groups: {default: 1s, fast: 250ms}
templates:
  meter:
    class: meter
    parameters: {base: 0, ct: null}
    tags:
      - {name: energy, type: float32, address: "hr:{base}", units: kWh}
      - {name: power, type: float32, address: "ir:{base}", units: kW}
"""


def write_site(root: Path, files: dict[str, str], base: bool = True) -> Path:
    """Write ``files`` (name -> text, dedented) plus the base site.yaml into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    if base:
        (root / "site.yaml").write_text(BASE)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def errors_of(root: Path, **kw) -> list[str]:
    """Every error of the site at ``root`` as text, file names relative to ``root``."""
    site, errors = check_site(root, **kw)
    assert (site is None) == bool(errors)
    return [str(e).replace(f"{root}/", "") for e in errors]


@pytest.fixture
def make_site(tmp_path):
    """``make_site(files, base=True) -> Path``: a site folder under tmp_path."""
    return lambda files, base=True, root=None: write_site(root or tmp_path / "site", files, base)


@pytest.fixture
def site_errors():
    """``site_errors(root, **check_site_kwargs) -> list[str]``."""
    return errors_of
