"""``python -m benchmarks.run``: run the benchmark suites and write the results.

The parent process never loads a graph engine: it starts one child process per
engine (``--child ENGINE``), one after the other so they do not compete for
the two cores, then regenerates ``RESULTS.md`` from the JSON files the
children wrote. kuzu and ladybug cannot share a process (DESIGN.md).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from . import report
from .datasets import KINDS
from .suite import RunContext, Suite

HERE = Path(__file__).resolve().parent
ENGINES = ("kuzu", "ladybug")
DEFAULT_SIZES = "10000,100000,1000000"
QUICK_SIZES = "10000"
QUICK_ONLY = ("ops", "peers", "core", "paths", "composed", "search_vec", "numpy_brute", "kuzu_index_query")
"""What ``--quick`` runs unless ``--only`` says otherwise: every suite the headline
tables of RESULTS.md draw on, and of the vectors suite the three figures they
use (its real-model benchmarks alone take minutes). Under 5 minutes here."""
QUICK_OUT = Path(tempfile.gettempdir()) / "graphmem-bench-quick" / "results"
"""``--quick`` writes here unless ``--out`` is given: a check, not the record in results/."""


def discover() -> dict[str, Suite]:
    """Every ``benchmarks/bench_<name>.py`` with a ``SUITE``, by suite name."""
    suites: dict[str, Suite] = {}
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda i: i.name):
        if info.name.startswith("bench_"):
            module = importlib.import_module(f"{__package__}.{info.name}")
            suite = getattr(module, "SUITE", None)
            if isinstance(suite, Suite):
                suites[suite.name] = suite
    return suites


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(part)) for part in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, not {text!r}") from None
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError("every size must be at least 2")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Run graphmem's benchmarks, one process per engine; write results/<suite>-<engine>.json "
        "and regenerate RESULTS.md.",
        epilog="examples:\n"
        "  python -m benchmarks.run --quick                      # 10k entities, few repetitions (< 5 min)\n"
        "  python -m benchmarks.run --sizes 10000,100000,1000000   # the full run (make bench)\n"
        "  python -m benchmarks.run --engines ladybug --only get_cold,get_warm --sizes 100000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sizes", type=_sizes, default=None,
                   help=f"entity counts, comma-separated (default {DEFAULT_SIZES}; {QUICK_SIZES} with --quick); "
                   "each graph has 5 relations per entity")
    p.add_argument("--quick", action="store_true",
                   help="10k entities, few repetitions, the suites of the headline tables: a check, not a record "
                   "(written to a temp directory unless --out)")
    p.add_argument("--engines", type=_csv, default=list(ENGINES), help="comma-separated (default kuzu,ladybug)")
    p.add_argument("--graphs", type=_csv, default=list(KINDS), help="graph shapes (default random,powerlaw)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"directory for the JSON results (default {HERE / 'results'}; with --quick {QUICK_OUT})")
    p.add_argument("--markdown", type=Path, default=None, help="the table to regenerate (default OUT/../RESULTS.md)")
    p.add_argument("--only", type=_csv, default=None,
                   help="suite or benchmark names, comma-separated; with benchmark names, the other "
                   "benchmarks' results in OUT are kept")
    p.add_argument("--merge", action="store_true",
                   help="keep the results in OUT that this run does not re-measure (other sizes, graphs or "
                   "benchmarks) instead of replacing the suite's file; implied when --only names benchmarks")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=None, help="repetitions of every benchmark (overrides the defaults)")
    p.add_argument("--workdir", type=Path, default=None, help="where the stores under test go (default: system temp)")
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="run the selected benchmarks under cProfile and write DIR/<benchmark>-<graph>-<size>-<engine>"
                   ".txt/.prof; the (slowed) results go to DIR/results, not to OUT")
    p.add_argument("--list", action="store_true", help="list the suites and benchmarks, then exit")
    p.add_argument("--child", choices=ENGINES, default=None, help=argparse.SUPPRESS)
    p.add_argument("--command", default=None, help=argparse.SUPPRESS)
    return p


def _select(suites: dict[str, Suite], only: list[str] | None) -> list[tuple[Suite, set[str] | None]]:
    """The suites to run, each with the benchmark names to record (``None``: all)."""
    if not only:
        return [(s, None) for s in suites.values()]
    chosen: dict[str, set[str] | None] = {}
    known = {b.name: s.name for s in suites.values() for b in s.benchmarks}
    for name in only:
        if name in suites:
            chosen[name] = None
        elif name in known:
            current = chosen.get(known[name], set())
            if current is not None:
                current.add(name)
                chosen[known[name]] = current
        else:
            raise SystemExit(f"--only: no suite or benchmark named {name!r}; see --list")
    return [(suites[name], names) for name, names in chosen.items()]


def run_child(args: argparse.Namespace) -> int:
    """Run the selected suites with one engine, in this process."""
    engine = args.child
    suites = discover()
    workdir = Path(tempfile.mkdtemp(prefix="graphmem-bench-", dir=args.workdir))
    status = 0
    try:
        for suite, names in _select(suites, args.only):
            if suite.engines is not None and engine not in suite.engines:
                print(f"suite {suite.name}: runs with {', '.join(suite.engines)} only; skipped", file=sys.stderr)
                continue
            ctx = RunContext(engine=engine, sizes=args.sizes, graphs=args.graphs, seed=args.seed, quick=args.quick,
                             workdir=workdir, repeat=args.repeat, only=names, profile_dir=args.profile)  # fmt: skip
            ctx.log(f"suite {suite.name}: sizes {args.sizes}, graphs {args.graphs}")
            header: dict[str, Any] = {
                "suite": suite.name,
                "title": suite.title,
                "engine": engine,
                "command": args.command or report.python_command(sys.argv[1:]),
                "date": report.now_iso(),
                "quick": args.quick,
                "seed": args.seed,
                "sizes": args.sizes,
                "graphs": args.graphs,
                "repeat_override": args.repeat,
                "benchmarks": {b.name: b.as_dict() for b in suite.benchmarks},
            }
            load_before = report.load_average()
            started = time.perf_counter()

            def save(measurements: list[dict[str, Any]], *, complete: bool, error: str | None = None) -> Path:
                result = {
                    **header,
                    "complete": complete,
                    "duration_s": time.perf_counter() - started,
                    "load_average": {"before": load_before, "after": report.load_average()},
                    "machine": report.machine_info(),
                    "datasets": ctx.datasets,
                    "measurements": measurements,
                }
                if error is not None:
                    result["error"] = error
                return report.save_result(args.out, result, merge=args.merge or names is not None)

            ctx.checkpoint = lambda ms: save(list(ms), complete=False) and None
            try:
                measurements = suite.run(ctx)
            except Exception as exc:  # noqa: BLE001 - record it, and still run the other suites
                ctx.log("".join(traceback.format_exception(exc)).rstrip())
                save([], complete=False, error=f"{type(exc).__name__}: {exc}")
                status = 1
                continue
            path = save(measurements, complete=True)
            failed = [m for m in measurements if "error" in m]
            if failed:
                status = 1
                ctx.log(f"suite {suite.name}: {len(failed)} benchmark(s) raised; see 'error' in {path}")
            ctx.log(f"suite {suite.name}: wrote {path}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return status


def _child_argv(args: argparse.Namespace, engine: str, command: str) -> list[str]:
    argv = [sys.executable, "-m", "benchmarks.run", "--child", engine,
            "--sizes", ",".join(map(str, args.sizes)), "--graphs", ",".join(args.graphs),
            "--out", str(args.out), "--seed", str(args.seed), "--command", command]  # fmt: skip
    if args.quick:
        argv.append("--quick")
    if args.merge:
        argv.append("--merge")
    if args.only:
        argv += ["--only", ",".join(args.only)]
    if args.repeat is not None:
        argv += ["--repeat", str(args.repeat)]
    if args.workdir is not None:
        argv += ["--workdir", str(args.workdir)]
    if args.profile is not None:
        argv += ["--profile", str(args.profile)]
    return argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.sizes is None:
        args.sizes = _sizes(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.quick and args.only is None and not args.child:
        args.only = list(QUICK_ONLY)
    if args.out is None:
        args.out = QUICK_OUT if args.quick and not args.child else HERE / "results"
    if args.profile is not None:
        # Profiling slows every call down: keep those figures away from the record.
        args.profile = args.profile.resolve()
        if args.out == HERE / "results":
            args.out = args.profile / "results"
    args.out = args.out.resolve()
    unknown = [g for g in args.graphs if g not in KINDS]
    if unknown:
        raise SystemExit(f"--graphs: unknown shape(s) {unknown}; choose from {', '.join(KINDS)}")
    if args.repeat is not None and args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    if args.list:
        for suite in discover().values():
            print(f"{suite.name}: {suite.title}")
            for b in suite.benchmarks:
                budget = f"  [{b.budget.describe()}]" if b.budget else ""
                print(f"  {b.name}{budget}\n      {b.description}")
        return 0
    if args.child:
        return run_child(args)

    bad = [e for e in args.engines if e not in ENGINES]
    if bad or not args.engines:
        raise SystemExit(f"--engines: choose from {', '.join(ENGINES)}")
    if args.only:
        _select(discover(), args.only)  # fail before spending minutes on a typo
    command = args.command or report.python_command(argv)
    started = time.perf_counter()
    failed = []
    for engine in args.engines:
        print(f"== {engine}: {command}", file=sys.stderr, flush=True)
        code = subprocess.run(_child_argv(args, engine, command), cwd=HERE.parent).returncode
        if code != 0:
            failed.append(f"{engine} (exit {code})")
            print(f"== {engine} failed with exit code {code}", file=sys.stderr, flush=True)
    markdown = args.markdown or args.out.parent / "RESULTS.md"
    written = report.write_markdown(args.out, markdown)
    plots = markdown.parent / "plots"
    print(f"== done in {(time.perf_counter() - started) / 60:.1f} min; results in {args.out}"
          + (f", table in {written}" if written else "")
          + (f", plots in {plots}" if written and plots.is_dir() else ""), file=sys.stderr)  # fmt: skip
    if failed:
        print("== failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
