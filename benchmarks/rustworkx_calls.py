"""Which rustworkx call is its best point-to-point shortest path?

The paths suite times rustworkx with ``dijkstra_shortest_paths(g, a,
target=b)``. rustworkx has no unweighted point-to-point BFS, so this script
times every call that can answer "a shortest path from a to b" on the same
seeded graph and pairs, to show that the one the suite uses is not a
handicap. Run::

    .venv/bin/python -m benchmarks.rustworkx_calls --sizes 10000,100000 --pairs 50

It prints the median per call in milliseconds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

from .datasets import generate
from .timing import measure

CALLS: dict[str, Callable[[Any, Any, int, int], Any]] = {
    # Returns the path: what graphmem's shortest_path answers.
    "dijkstra_shortest_paths(target=b)": lambda rx, g, a, b: rx.dijkstra_shortest_paths(g, a, target=b),
    "all_shortest_paths(a, b)": lambda rx, g, a, b: rx.all_shortest_paths(g, a, b),
    # Return less than a path; listed as lower bounds of what rustworkx can do.
    "dijkstra_shortest_path_lengths(goal=b)": lambda rx, g, a, b: rx.dijkstra_shortest_path_lengths(
        g, a, lambda _: 1.0, goal=b
    ),
    "bfs_layers([a]) (no early stop)": lambda rx, g, a, b: rx.bfs_layers(g, [a]),
}


def main(argv: list[str] | None = None) -> None:
    import rustworkx as rx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="entity counts, comma-separated")
    parser.add_argument("--pairs", type=int, default=50, help="seeded random pairs per call")
    args = parser.parse_args(argv)
    for size in (int(s) for s in args.sizes.split(",")):
        graph = generate("random", size)
        g = rx.PyGraph(multigraph=False)
        g.add_nodes_from(range(graph.n))
        g.extend_from_edge_list(list(zip(graph.src.tolist(), graph.dst.tolist())))
        pairs = np.random.default_rng(11).integers(0, graph.n, size=(args.pairs + 2, 2)).tolist()
        for name, call in CALLS.items():
            stats = measure(lambda i, call=call: call(rx, g, *pairs[i]), repeat=args.pairs, warmup=2)
            print(f"{size:>9,}  {name:<42} p50 {stats.p50_ms:9.3f} ms")


if __name__ == "__main__":
    main()
