"""The growth plots: matplotlib PNGs under ``benchmarks/plots/``, made from the JSON records.

matplotlib is a benchmark-only dependency (the ``bench`` extra); without it
the report is written with no plots and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .summary import ENGINES, GROWTH, LUKHAS_TARGETS, OPS, PEER_ROWS, RATIO_ENGINE, Index

__all__ = ["write_plots"]

_STYLE = {"kuzu": "-", "ladybug": "--"}
_COLOR = {"kuzu": "tab:blue", "ladybug": "tab:green"}


def write_plots(results: list[dict[str, Any]], plots_dir: Path) -> list[Path]:
    """Write every plot the records allow; returns the files written (none without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display on a server or in CI
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    idx = Index(results)
    plots_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (("latency_vs_size", _latency), ("peers_vs_size", _peers), ("memory_vs_size", _memory),
                       ("ops_vs_targets", _targets)):  # fmt: skip
        fig = draw(plt, idx)
        if fig is None:
            continue
        path = plots_dir / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def _sizes(idx: Index) -> list[int]:
    return sorted(set(idx.sizes("ops")) | set(idx.sizes("core")) | set(idx.sizes("paths")))


def _latency(plt: Any, idx: Index) -> Any:
    sizes = _sizes(idx)
    fig, axes = plt.subplots(1, len(GROWTH), figsize=(4.2 * len(GROWTH), 3.6), sharey=False)
    drawn = False
    for ax, (op, (label, _)) in zip(axes, GROWTH.items()):
        for e in ENGINES:
            xs, p50, p95, borrowed = [], [], [], []
            for s in sizes:
                m, source = idx.op(op, e, s, GROWTH)
                if m is not None:
                    xs.append(s)
                    p50.append(m["p50_ms"])
                    p95.append(m["p95_ms"])
                    if source:
                        borrowed.append((s, m["p50_ms"]))
            if xs:
                drawn = True
                ax.plot(xs, p50, _STYLE.get(e, ":"), color=_COLOR.get(e), marker="o", label=f"{e} p50")
                ax.plot(xs, p95, _STYLE.get(e, ":"), color=_COLOR.get(e), marker="x", alpha=0.4, label=f"{e} p95")
            if borrowed:
                # hollow: measured by the earlier suite of the same call (no ops figure at that size)
                ax.plot(*zip(*borrowed), "o", color=_COLOR.get(e), markerfacecolor="white", markersize=8)
        ax.set(title=label, xscale="log", yscale="log", xlabel="memories in the store", ylabel="ms per call")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle("graphmem latency against store size (ops suite; hollow: the earlier suite's figure for the same call)", y=1.03)
    return fig if drawn else None


def _peers(plt: Any, idx: Index) -> Any:
    groups: dict[str, list[tuple[str, tuple[str, str], tuple[str, str]]]] = {}
    for op, peer, src, own in PEER_ROWS:
        groups.setdefault(op, []).append((peer, src, own))
    cols = 3
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows))
    flat = list(axes.flat)
    drawn = False
    for ax, (op, members) in zip(flat, groups.items()):
        own_lines: list[tuple[str, str]] = []
        for peer, (ps, pb), own in members:
            pts = _series(idx, ps, pb)
            if pts:
                drawn = True
                ax.plot(*zip(*pts), marker="o", label=peer)
            if own not in own_lines:
                # graphmem as measured beside these peers: in their suite's process, or by the ops suite
                series = _series(idx, *own)
                if series:
                    ax.plot(*zip(*series), "k-" if not own_lines else "k:", linewidth=2.5, marker="s",
                            label=f"graphmem ({own[0]} suite)")  # fmt: skip
                own_lines.append(own)
        ax.set(title=op, xscale="log", yscale="log", xlabel="entities", ylabel="p50 ms")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    for ax in flat[len(groups):]:
        ax.axis("off")
    fig.suptitle("graphmem (black) and its peers: p50 latency against store size", y=1.01)
    fig.tight_layout()
    return fig if drawn else None


def _series(idx: Index, suite: str, bench: str) -> list[tuple[int, float]]:
    """(size, p50) of one benchmark on the ratio engine, smallest size first."""
    points = [(s, idx.get(suite, RATIO_ENGINE, bench, s)) for s in idx.sizes(suite, (RATIO_ENGINE,))]
    return [(s, m["p50_ms"]) for s, m in points if m is not None]


def _memory(plt: Any, idx: Index) -> Any:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = False
    for e in ENGINES:
        pts = [(s, idx.get("ops", e, "bytes_per_memory", s)) for s in idx.sizes("ops", (e,))]
        pts = [(s, m["extra"]) for s, m in pts if m is not None]
        if not pts:
            continue
        drawn = True
        xs = [s for s, _ in pts]
        ax.plot(xs, [x["disk_bytes_per_memory"] for _, x in pts], _STYLE.get(e, ":"), color=_COLOR.get(e),
                marker="o", label=f"{e}: disk")  # fmt: skip
        ax.plot(xs, [x["resident_bytes_per_memory"] for _, x in pts], _STYLE.get(e, ":"), color=_COLOR.get(e),
                marker="s", alpha=0.7, label=f"{e}: resident")  # fmt: skip
        marginal = [(s, x.get("resident_marginal_bytes_per_memory")) for s, x in pts]
        marginal = [(s, v) for s, v in marginal if v is not None and v > 0]
        if marginal:
            ax.plot(*zip(*marginal), _STYLE.get(e, ":"), color=_COLOR.get(e), marker="^", alpha=0.4,
                    label=f"{e}: marginal resident")
    for target in LUKHAS_TARGETS:
        ax.axhline(target, color="grey", linewidth=0.8, linestyle=":")
        ax.text(0.01, target * 1.05, f"LUKHAS {target // 1000} KB", fontsize=7, color="grey",
                transform=ax.get_yaxis_transform())  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="memories in the store", ylabel="bytes per memory",
           title="bytes per memory (entity + 5 relations + 384-d embedding); KB = 1000 bytes")  # fmt: skip
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig if drawn else None


def _targets(plt: Any, idx: Index) -> Any:
    sizes = _sizes(idx)
    if not sizes:
        return None
    labels, refs, bars = [], [], {e: [] for e in ENGINES}
    # The largest size the ops suite itself measured (all six on one store), else the largest with any figure.
    measured = idx.sizes("ops") or [s for s in sizes if any(idx.op(op, e, s)[0] for op in OPS for e in ENGINES)]
    if not measured:
        return None
    size = max(measured)
    for op, (label, _) in OPS.items():
        ref = (idx.info.get(("ops", op), {}).get("reference") or {}).get("limit")
        labels.append(label)
        refs.append(ref)
        for e in ENGINES:
            m, _ = idx.op(op, e, size)
            bars[e].append(m["p50_ms"] if m else 0)
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.38
    xs = range(len(labels))
    for j, e in enumerate(ENGINES):
        ax.bar([x + (j - 0.5) * width for x in xs], bars[e], width, label=f"graphmem on {e} (p50)")
    for x, ref in zip(xs, refs):
        if ref:
            ax.hlines(ref, x - 0.45, x + 0.45, colors="red", linewidth=2)
    ax.plot([], [], "r-", label="AgentiCraft target")
    ax.set_xticks(list(xs), labels, rotation=20, ha="right", fontsize=8)
    ax.set(yscale="log", ylabel="ms per call", title=f"operations at {size:,} memories against the published targets")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return fig
