"""Benchmark harness: the result type every ``tests/bench/bench_*.py`` returns, and the runner.

A benchmark module exposes ``run() -> list[BenchResult]``; import the type as
``from tests.bench.harness import BenchResult`` (``scripts/bench`` puts the
repository root on ``sys.path``). ``scripts/bench`` imports every module,
runs it, and prints one table; a benchmark that raises prints its error and
the others still run. Each benchmark runs in its own process. Benchmarks are
never part of the test suite.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent.parent


@dataclass(frozen=True)
class BenchResult:
    """One measured figure, optionally compared with a baseline measured in the same run.

    ``ratio`` is always "times better than the baseline": ``value / baseline``
    when higher is better (throughput), ``baseline / value`` when
    ``lower_is_better`` (latency, memory). ``target`` is the figure the issue
    asks for; it is reported, never asserted.
    """

    benchmark: str
    figure: str
    value: float
    unit: str
    baseline: float | None = None
    lower_is_better: bool = False
    target: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (None without a baseline)."""
        if self.baseline is None or self.value == 0 or self.baseline == 0:
            return None
        return self.baseline / self.value if self.lower_is_better else self.value / self.baseline

    @property
    def meets_target(self) -> bool | None:
        """Whether the target is reached (None without a target)."""
        if self.target is None:
            return None
        return self.value <= self.target if self.lower_is_better else self.value >= self.target


def best_time(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best wall time of ``number`` calls of ``fn`` over ``repeat`` rounds, in seconds per call.

    Best-of is the usual estimate on a shared machine: noise only ever adds time.
    """
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def run_on_asyncio_reactor(main: Callable[[Any], Awaitable[object]]) -> None:
    """Install the asyncio reactor, run ``await main(reactor)`` on it, stop it, re-raise a failure.

    For benchmarks that need the reactor: each runs in its own process, so
    installing the global reactor here is safe (it must not be imported before).
    """
    import asyncio

    from twisted.internet import asyncioreactor
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    from twisted.internet import defer, reactor

    async def wrapped():
        try:
            await main(reactor)
        finally:
            reactor.stop()
    failure = []
    reactor.callWhenRunning(lambda: defer.ensureDeferred(wrapped()).addErrback(failure.append))
    reactor.run()
    if failure:
        failure[0].raiseException()


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def format_table(rows: Iterable[BenchResult], errors: Iterable[tuple[str, str]] = ()) -> str:
    """One plain-text table of results; failed benchmarks are listed after it."""
    header = ("benchmark", "figure", "value", "unit", "baseline", "ratio", "target", "note")
    body = []
    for r in rows:
        ratio = r.ratio
        met = r.meets_target
        target = "-" if r.target is None else f"{'<=' if r.lower_is_better else '>='}{_num(r.target)} " \
                                               f"{'ok' if met else 'MISSED'}"
        body.append((r.benchmark, r.figure, _num(r.value), r.unit, _num(r.baseline),
                     "-" if ratio is None else f"{ratio:.2f}x", target, r.note))
    widths = [max(len(h), *(len(row[k]) for row in body)) if body else len(h) for k, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in body]
    for name, err in errors:
        lines.append(f"\n{name} FAILED:\n{err.rstrip()}")
    return "\n".join(lines)


def discover(names: Iterable[str] = ()) -> list[str]:
    """Module names of the benchmarks to run (all ``bench_*.py``, or those named)."""
    available = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    wanted = list(names)
    if not wanted:
        return available
    chosen = []
    for name in wanted:
        stem = name if name.startswith("bench_") else f"bench_{name}"
        stem = stem.removesuffix(".py")
        if stem not in available:
            raise SystemExit(f"no benchmark {name!r}; available: {', '.join(s[6:] for s in available)}")
        chosen.append(stem)
    return chosen


_MARK = "@@bench-results@@ "


def _child(stem: str) -> None:
    """Run one benchmark module in this (child) process; print its results as one JSON line."""
    try:
        module = importlib.import_module(f"tests.bench.{stem}")
        rows = [asdict(r) for r in module.run()]
        # numpy scalars are common in figures: send them as plain numbers.
        print(_MARK + json.dumps({"results": rows}, default=lambda o: o.item() if hasattr(o, "item") else str(o)),
              flush=True)
    except BaseException:   # report everything, even SystemExit from a benchmark
        print(_MARK + json.dumps({"error": traceback.format_exc()}), flush=True)


def run_isolated(stem: str, timeout: float) -> tuple[list[BenchResult], str | None]:
    """Run one benchmark in its own Python process: results, or the error that stopped it.

    A process per benchmark keeps memory figures clean (no other benchmark's
    heap in the RSS) and turns a crash or a hang into a reported failure
    instead of the end of the whole run.
    """
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from tests.bench.harness import _child; _child(sys.argv[2])")
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(ROOT), stem], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], f"did not finish within {timeout:.0f} s (SPMS_BENCH_TIMEOUT)"
    payload = None
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            payload = json.loads(line[len(_MARK):])
        else:
            print(line, file=sys.stderr)   # the benchmark's own progress output
    if payload is None:
        return [], f"the benchmark process ended with status {proc.returncode} without results"
    if "error" in payload:
        return [], payload["error"]
    return [BenchResult(**row) for row in payload["results"]], None


def main(argv: list[str]) -> int:
    """Run the benchmarks named in ``argv`` (all when empty); exit 1 when any failed."""
    if any(a in ("-h", "--help") for a in argv):
        print("usage: scripts/bench [NAME ...]   (NAME: e.g. tagdb for tests/bench/bench_tagdb.py)\n"
              "Each benchmark runs in its own process; SPMS_BENCH_TIMEOUT (s, default 900) bounds it.")
        return 0
    timeout = float(os.environ.get("SPMS_BENCH_TIMEOUT", "900"))
    results: list[BenchResult] = []
    errors: list[tuple[str, str]] = []
    for stem in discover(argv):
        print(f"running {stem} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows, error = run_isolated(stem, timeout)
        results.extend(rows)
        if error:
            errors.append((stem, error))
        print(f"  {stem} took {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(format_table(results, errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
