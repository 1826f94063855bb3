"""Benchmark of site loading: validated tags per second.

Workloads, each a site folder in a temporary directory:

* ``csv``: 100,000 tags in one CSV tag list (scaling, percent deadband, Modbus addresses).
* ``templates``: 2,000 meters from one 20-tag template via ``count`` (40,000 tags).
* ``yaml``: 10,000 explicit YAML tags.

The baseline for the YAML workload is parsing the same file with PyYAML's libyaml
loader alone (``CSafeLoader``: no line numbers, no validation), so the ratio (below 1)
shows what locations and checks cost on top of parsing. No target is set by the
issues; a site loads once at start-up. Large tag lists belong in CSV or templates.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import yaml

from tagdb.site.loader import load_site
from tests.bench.harness import BenchResult

BENCH = "site"
HEAD = ("site: {name: Bench, timezone: UTC}\n"
        "devices:\n  plc-1: {protocol: modbus, endpoint: 'tcp://127.0.0.1:5020'}\n")


def _csv_site(root: Path, n: int = 100_000) -> int:
    lines = ["path,type,device,address,raw_lo,raw_hi,eng_lo,eng_hi,deadband,units"]
    lines += [f"b/f{i // 100}/t{i % 100},int16,plc-1,hr:{i % 60000},0,1000,0,100,1%,degC" for i in range(n)]
    (root / "tags.csv").write_text("\n".join(lines) + "\n")
    (root / "site.yaml").write_text(HEAD + "tag_files: [tags.csv]\n")
    return n


def _template_site(root: Path, meters: int = 2_000, tags: int = 20) -> int:
    tag_lines = "".join(f"      - {{name: p{j}, type: float32, address: 'ir:{{base}}', units: kWh, "
                        f"deadband: 0.5}}\n" for j in range(tags))
    (root / "site.yaml").write_text(
        HEAD + "templates:\n  meter:\n    class: meter\n    parameters: {base: 0}\n    tags:\n" + tag_lines
        + f"equipment:\n  - {{id: 'b/meter-{{n:04d}}', count: {meters}, template: meter, device: plc-1, "
          "parameters: {base: '{n}'}}\n")
    return meters * tags


def _yaml_site(root: Path, n: int = 10_000) -> int:
    body = "".join(f"  - {{path: b/y/t{i}, type: float32, device: plc-1, address: 'hr:{i % 60000}', "
                   f"range: [0, 100], deadband: 2%}}\n" for i in range(n))
    (root / "site.yaml").write_text(HEAD + "tags:\n" + body)
    return n


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run() -> list[BenchResult]:
    """Load each workload twice and report the better rate."""
    results = []
    for name, build in (("csv", _csv_site), ("templates", _template_site), ("yaml", _yaml_site)):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            n = build(root)
            site = load_site(root)
            assert len(site.tags) == n, (name, len(site.tags))
            seconds = min(_time(lambda: load_site(root)) for _ in range(2))
            baseline = None
            if name == "yaml":
                text = (root / "site.yaml").read_text()
                loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
                baseline = n / min(_time(lambda: yaml.load(text, Loader=loader)) for _ in range(2))  # noqa: S506
            results.append(BenchResult(BENCH, f"load {name} ({n:,} tags)", n / seconds, "tags/s",
                                       baseline=baseline,
                                       note="baseline: bare libyaml parse" if baseline else ""))
    return results
