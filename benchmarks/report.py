"""Results on disk: ``results/<suite>-<engine>.json`` and the ``RESULTS.md`` made from them.

The JSON files are the record (machine, versions, seed, sizes, every
measurement with its budget); ``RESULTS.md`` is regenerated from whatever
JSON files are present, so the engines, measured in separate processes and
possibly separate runs, sit side by side.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from . import figures, summary
from .summary import format_ms as _ms
from .suite import check_budget, describe_budget, human_count

__all__ = [
    "load_average", "now_iso", "python_command", "machine_info", "result_path", "save_result", "load_results",
    "render_markdown", "write_markdown", "keep_hand_sections",
]  # fmt: skip

ENGINE_ORDER = ("kuzu", "ladybug")
_GRAPH_ORDER = {"random": 0, "powerlaw": 1}
_PACKAGES = ("graphmem", "kuzu", "ladybug", "numpy", "pyarrow", "numba", "hnswlib", "pyroaring", "networkx",
             "rustworkx", "igraph", "kglite", "pandas", "matplotlib")


def machine_info() -> dict[str, Any]:
    """What the figures depend on: CPUs, memory, OS, Python, package versions, the code's commit."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "git": _git_state(),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1 << 20), 1)
    except (OSError, ValueError):
        pass
    return None


def _git_state() -> dict[str, Any] | None:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def load_average() -> list[float] | None:
    """1-, 5- and 15-minute load averages: anything else running skews latencies."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def result_path(out_dir: Path, suite: str, engine: str) -> Path:
    return Path(out_dir) / f"{suite}-{engine}.json"


def save_result(out_dir: Path, result: dict[str, Any], *, merge: bool) -> Path:
    """Write one suite's result for one engine.

    With ``merge`` (a ``--only`` run), measurements of the benchmarks just
    run replace the same (benchmark, graph, size) in the existing file and the
    rest are kept, so re-measuring one benchmark does not drop the others.
    """
    path = result_path(out_dir, result["suite"], result["engine"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if merge and path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        fresh = {(m["benchmark"], m["graph"], m["size"]) for m in result["measurements"]}
        kept = [m for m in old.get("measurements", []) if (m["benchmark"], m["graph"], m["size"]) not in fresh]
        if (old.get("command"), old.get("date")) == (result["command"], result["date"]):
            # This run's own earlier save (it saves after every size).
            result = {**result, "measurements": kept + result["measurements"], "updates": old.get("updates", [])}
        else:
            update = {"command": result["command"], "date": result["date"], "complete": result.get("complete", True),
                      "load_average": result.get("load_average"),
                      "benchmarks": sorted({m["benchmark"] for m in result["measurements"]}),
                      "sizes": result.get("sizes"), "graphs": result.get("graphs"),
                      "git": (result.get("machine") or {}).get("git"),
                      "packages": (result.get("machine") or {}).get("packages")}
            updates = [u for u in old.get("updates", []) if (u["command"], u["date"]) != (update["command"],
                                                                                           update["date"])]
            updates.append(update)
            # The header line states the first run's command, date and load, so it keeps
            # that run's machine (its commit and package versions); each update carries its own.
            result = {**old, "measurements": kept + result["measurements"], "updates": updates}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_results(out_dir: Path) -> list[dict[str, Any]]:
    results = []
    for path in sorted(Path(out_dir).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and {"suite", "engine", "measurements"} <= data.keys():
            results.append(data)
    return results


# -- RESULTS.md --------------------------------------------------------------------


def _cpu(meas: dict[str, Any]) -> str:
    cpu = meas.get("cpu_mean_ms")
    return "—" if cpu is None else _ms(cpu)


def _mark(ok: bool | None) -> str:
    return {True: "pass", False: "**FAIL**", None: "·"}[ok]


def _engines(results: Iterable[dict[str, Any]]) -> list[str]:
    found = {r["engine"] for r in results}
    return [e for e in ENGINE_ORDER if e in found] + sorted(found - set(ENGINE_ORDER))


def render_markdown(results: list[dict[str, Any]], *, cluster: list[dict[str, Any]] | None = None,
                    plots: list[str] | None = None) -> str:
    """RESULTS.md: the headline sections (:mod:`benchmarks.summary`), then every suite's full tables.

    ``cluster`` are the raw ``cluster*.json`` files (any shape); ``plots`` the
    PNGs to link, as paths relative to RESULTS.md.
    """
    lines = [
        "# Benchmark results",
        "",
        "Generated by `benchmarks/report.py` from `benchmarks/results/*.json` (the full record: machine, "
        "versions, seed, every sample summary); do not edit by hand. How to run and what each benchmark "
        "measures: [README.md](README.md). Figures are medians (p50) and 95th percentiles in milliseconds "
        "per call unless a rate is shown; `cpu` is the mean process CPU time per call (all threads): when it is "
        "far below the wall-clock mean, other processes were competing for the 2 cores and the wall-clock "
        "figures are inflated (see the load averages). `pass`/`FAIL` compare the p50 (or the rate) against "
        "the budget of the issue; `·` means the budget does not apply at that size.",
        "",
    ]
    lines += summary.render_summary(results, cluster or [], plots or [])
    lines += ["# Every suite in full", ""]
    suites: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        suites.setdefault(r["suite"], []).append(r)
    for suite_name in sorted(suites, key=lambda s: (s != "core", s)):
        lines += _render_suite(suites[suite_name])
    return "\n".join(lines).rstrip() + "\n"


def _render_suite(results: list[dict[str, Any]]) -> list[str]:
    engines = _engines(results)
    by_engine = {r["engine"]: r for r in results}
    first = by_engine[engines[0]]
    lines = [f"## {first.get('title', first['suite'])}", ""]
    for engine in engines:
        r = by_engine[engine]
        machine = r["machine"]
        pkgs = machine.get("packages", {})
        git = machine.get("git") or {}
        commit = ((git.get("commit") or "")[:10] or "(commit not recorded)") + (
            " (uncommitted changes)" if git.get("dirty") else "")
        lines.append(
            f"- **{engine}** {pkgs.get(engine) or ''}: `{r['command']}` — {r['date'][:16].replace('T', ' ')} UTC, "
            f"{r['duration_s'] / 60:.1f} min; seed {r['seed']}; graphmem {commit}" + _load_note(r)
            + ("" if r.get("complete", True) else " — **incomplete** (stopped, or still running)")
            + (f" — suite error: {r['error']}" if r.get("error") else "")
        )
        for update in r.get("updates", []):
            what = ("all benchmarks" if set(update["benchmarks"]) >= set(r.get("benchmarks", {}))
                    else ", ".join(update["benchmarks"]))  # fmt: skip
            if update.get("sizes"):
                what += " at " + ", ".join(human_count(n) for n in update["sizes"])
            commit = (update.get("git") or {}).get("commit")
            version = (update.get("packages") or {}).get(engine)
            other_engine = f"; {engine} {version}" if version and version != pkgs.get(engine) else ""
            lines.append(f"  - re-measured by `{update['command']}` ({update['date'][:16].replace('T', ' ')} UTC"
                         f"{_load_note(update)}{'; graphmem ' + commit[:10] if commit else ''}{other_engine}): {what}")
    m = first["machine"]
    pkgs = m.get("packages", {})
    lines += [
        f"- machine: {m.get('cpus_usable')} CPUs ({m.get('cpu_model')}), {m.get('memory_gib')} GiB, "
        f"{m.get('platform')}, Python {m.get('python')}; numpy {pkgs.get('numpy')}, pyarrow {pkgs.get('pyarrow')}",
        "",
    ]

    benchmarks: dict[str, dict[str, Any]] = {}
    for engine in engines:
        for name, info in by_engine[engine].get("benchmarks", {}).items():
            benchmarks.setdefault(name, info)
    index: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for engine in engines:
        for meas in by_engine[engine]["measurements"]:
            index[(engine, meas["benchmark"], meas["graph"], meas["size"])] = meas
    order = list(benchmarks)
    # The name breaks ties between benchmarks the suite does not list, which would
    # otherwise come out in set order and reorder RESULTS.md from run to run.
    rows = sorted({(b, g, s) for (_, b, g, s) in index}, key=lambda k: (
        order.index(k[0]) if k[0] in order else len(order), k[0], _GRAPH_ORDER.get(k[1], len(_GRAPH_ORDER)), k[1],
        k[2]))

    throughput = [k for k in rows if benchmarks.get(k[0], {}).get("kind") == "throughput"]
    latency = [k for k in rows if k not in throughput]
    if throughput:
        head = ["benchmark", "graph", "size"]
        for e in engines:
            head += [f"{e} rate", f"{e} p50 ms/call", f"{e} cpu ms/call"]
        head += ["budget"] + engines
        lines += ["### Throughput", "", _row(head), _row(["---"] * len(head))]
        for key in throughput:
            info = benchmarks.get(key[0], {})
            cells = [key[0], key[1], human_count(key[2])]
            marks = []
            for e in engines:
                meas = index.get((e, *key))
                if meas is None:
                    cells += ["—", "—", "—"]
                    marks.append("—")
                    continue
                if "error" in meas:
                    cells += ["error", "—", "—"]
                else:
                    cells += [f"{human_count(meas['ops_per_s'])} {meas['unit']}/s", _ms(meas["p50_ms"]), _cpu(meas)]
                marks.append(_mark(check_budget(info.get("budget"), meas)))
            budget = info.get("budget")
            lines.append(_row(cells + [describe_budget(budget) if budget else "—"] + marks))
        lines.append("")
    if latency:
        head = ["benchmark", "graph", "size"]
        for e in engines:
            head += [f"{e} p50", f"{e} p95", f"{e} cpu"]
        head += ["budget"] + engines
        lines += ["### Latency (ms per call)", "", _row(head), _row(["---"] * len(head))]
        for key in latency:
            info = benchmarks.get(key[0], {})
            cells = [key[0], key[1], human_count(key[2])]
            marks = []
            for e in engines:
                meas = index.get((e, *key))
                if meas is None:
                    cells += ["—", "—", "—"]
                    marks.append("—")
                    continue
                if "error" in meas:
                    cells += ["error", "—", "—"]
                else:
                    cells += [_ms(meas["p50_ms"]), _ms(meas["p95_ms"]), _cpu(meas)]
                marks.append(_mark(check_budget(info.get("budget"), meas)))
            budget = info.get("budget")
            lines.append(_row(cells + [describe_budget(budget) if budget else "—"] + marks))
        lines.append("")

    errors = [(e, key, index[(e, *key)]["error"]) for key in rows for e in engines
              if "error" in index.get((e, *key), {})]  # fmt: skip
    if errors:
        lines += ["### Errors", ""]
        lines += [f"- `{b}` {g} {human_count(size)} on {e}: {msg}" for e, (b, g, size), msg in errors]
        lines.append("")
    datasets = first.get("datasets") or []
    if datasets:
        lines.append("Data sets (generated in the benchmark process, not timed above): " + "; ".join(
            f"{d['graph']} {human_count(d['size'])} entities / {human_count(d['relations'])} relations "
            f"in {d['generate_s']:.1f} s" for d in datasets) + ".")  # fmt: skip
        lines.append("")
    lines += ["### What each benchmark measures", ""]
    for name, info in benchmarks.items():
        lines.append(f"- `{name}`: {info['description']}")
    lines.append("")
    return lines


def _load_note(result: dict[str, Any]) -> str:
    load = result.get("load_average") or {}
    before, after = load.get("before"), load.get("after")
    if not before or not after:
        return ""
    return f"; load average {before[0]:.2f} before, {after[0]:.2f} after"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def write_markdown(out_dir: Path, markdown_path: Path, plots_dir: Path | None = None) -> Path | None:
    """Regenerate ``markdown_path`` and its plots (``plots_dir``, default ``plots/`` beside it) from the
    JSON results in ``out_dir``; ``None`` if there are none."""
    results = load_results(out_dir)
    if not results:
        return None
    markdown_path = Path(markdown_path)
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    plots_dir = Path(plots_dir) if plots_dir is not None else markdown_path.parent / "plots"
    written = figures.write_plots(results, plots_dir)
    plots = [os.path.relpath(p, markdown_path.parent) for p in written]
    text = render_markdown(results, cluster=summary.load_cluster(out_dir), plots=plots)
    if markdown_path.is_file():
        text = keep_hand_sections(text, markdown_path.read_text(encoding="utf-8"))
    tmp = markdown_path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, markdown_path)
    return markdown_path


HAND_MARK = "recorded by hand"
"""A ``## `` heading of RESULTS.md ending with this marks a section written by
hand (figures from a script outside ``benchmarks.run``, with its command)."""
_SUITES_HEADING = "# Every suite in full"


def keep_hand_sections(generated: str, previous: str) -> str:
    r"""``generated`` with the hand-recorded sections of ``previous`` put back at
    the head of "Every suite in full": regenerating RESULTS.md from the JSON
    must not drop figures that no JSON holds.

    Examples
    --------
    >>> old = "# R\n\n## Ops\n\nold\n\n# Every suite in full\n\n## Bulk, recorded by hand\n\nrates\n\n## Core\n"
    >>> new = "# R\n\n## Ops\n\nnew\n\n# Every suite in full\n\n## Core\n\nrows\n"
    >>> print(keep_hand_sections(new, old))
    # R
    <BLANKLINE>
    ## Ops
    <BLANKLINE>
    new
    <BLANKLINE>
    # Every suite in full
    <BLANKLINE>
    ## Bulk, recorded by hand
    <BLANKLINE>
    rates
    <BLANKLINE>
    ## Core
    <BLANKLINE>
    rows
    <BLANKLINE>
    """
    sections, current = [], None
    for line in previous.splitlines():
        if line.startswith("# ") or line.startswith("## "):
            current = [line] if line.startswith("## ") and line.rstrip().endswith(HAND_MARK) else None
            if current is not None:
                sections.append(current)
        elif current is not None:
            current.append(line)
    if not sections:
        return generated
    present = {line for line in generated.splitlines() if line.startswith("## ")}
    block = "\n".join("\n".join(s).rstrip() + "\n" for s in sections if s[0] not in present)
    if not block:
        return generated
    head, found, tail = generated.partition(_SUITES_HEADING + "\n")
    if not found:
        return generated.rstrip() + "\n\n" + _SUITES_HEADING + "\n\n" + block
    return head + found + "\n" + block + tail


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def python_command(argv: list[str]) -> str:
    """The command line as a person would retype it.

    >>> python_command(["--quick", "--engines", "kuzu"])
    'python -m benchmarks.run --quick --engines kuzu'
    """
    return " ".join(["python -m benchmarks.run", *map(shlex.quote, argv)])
