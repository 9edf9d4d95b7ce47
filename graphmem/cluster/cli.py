"""``graphmem cluster ...``: a local FalkorDB Redis Cluster for development, rebalancing, and migration (JSONL)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidInput

__all__ = ["cluster"]

_DIR = click.option("--dir", "root", type=click.Path(path_type=Path), default=Path("graphmem-cluster"),
                    show_default=True, help="The cluster's data folder (owner-only; holds cluster.json).")  # fmt: skip


@click.group()
def cluster() -> None:
    """A local FalkorDB Redis Cluster (127.0.0.1 only) for the cluster backend.

    \b
    Example:
      graphmem cluster up --primaries 3 --replicas 1
      graphmem cluster status
      graphmem cluster rebalance
      graphmem export ./agent_memory dump.jsonl && graphmem cluster import dump.jsonl --namespace a
      graphmem cluster down
    """


@cluster.command()
@_DIR
@click.option("--primaries", type=click.IntRange(min=3), default=3, show_default=True)
@click.option("--replicas", type=click.IntRange(min=0), default=1, show_default=True, help="Replicas per primary.")
@click.option("--node-timeout", type=click.IntRange(min=500), default=2000, show_default=True,
              help="cluster-node-timeout in ms: how long a silent primary stays primary.")
def up(root: Path, primaries: int, replicas: int, node_timeout: int) -> None:
    """Start a new cluster (or the stopped one in --dir) and print its URL."""
    from .local import STATE_FILE, LocalCluster

    if (root / STATE_FILE).exists():
        local = LocalCluster.load(root).start()
    else:
        local = LocalCluster(root, primaries=primaries, replicas=replicas, node_timeout_ms=node_timeout).up()
    click.echo(f"cluster up: {len(local.nodes)} nodes on 127.0.0.1 ports {', '.join(map(str, local.ports))}")
    click.echo(f"data: {local.root} (the password is in {local.root / STATE_FILE})")
    click.echo(f"connect: graphmem.connect({local.url!r}, namespace=...)")


@cluster.command()
@_DIR
def down(root: Path) -> None:
    """Stop exactly the processes `up` started (the data folder stays)."""
    from .local import LocalCluster

    stopped = LocalCluster.load(root).down()
    click.echo(f"stopped {len(stopped)} node(s)" + (f": pids {', '.join(map(str, stopped))}" if stopped else ""))


@cluster.command()
@_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the topology as JSON.")
def status(root: Path, as_json: bool) -> None:
    """Each node: port, role, slots."""
    from .local import LocalCluster

    nodes = sorted(LocalCluster.load(root).topology(), key=lambda n: n["port"])
    if as_json:
        click.echo(json.dumps(nodes, indent=2))
        return
    for n in nodes:
        slots = " ".join(f"{lo}-{hi}" for lo, hi in n["slots"])
        click.echo(f"{n['port']:>6} {n['role']:<8} {','.join(f for f in n['flags'] if f != 'myself'):<14} {slots}")


@cluster.command()
@_DIR
@click.option("--dry-run", is_flag=True, help="Print the moves without making them.")
def rebalance(root: Path, dry_run: bool) -> None:
    """Even out namespaces per primary by moving their slots."""
    from .admin import Admin
    from .local import HOST, LocalCluster

    local = LocalCluster.load(root)
    live = [p for p in local.ports if local.alive(p)]
    if not live:
        raise InvalidInput(f"no node of the cluster in {root} is running")
    moves = Admin(HOST, live[0], local.password).rebalance(dry_run=dry_run)
    for m in moves:
        click.echo(f"{'would move' if dry_run else 'moved'} slot {m.slot} ({m.keys} namespace(s)) {m.source} -> {m.target}")
    click.echo(f"{len(moves)} move(s)")


# -- migration: the JSON Lines of `graphmem export` / `graphmem import` ----------------

_URL = click.option("--url", envvar="GRAPHMEM_CLUSTER_URL", show_envvar=True, default=None,
                    help="redis+cluster://[:PASSWORD@]HOST:PORT of the cluster "
                    "(default: the local one in --dir).")  # fmt: skip
_NAMESPACE = click.option("--namespace", envvar="GRAPHMEM_NAMESPACE", show_envvar=True, default="default",
                          show_default=True, help="The namespace (one graph) to read or write.")  # fmt: skip


def _connect(root: Path, url: str | None, namespace: str, embedder: Any) -> Any:
    from .local import LocalCluster
    from .memory import connect

    if url is None:
        url = LocalCluster.load(root).url
    return connect(url, namespace=namespace, embedder=embedder)


@cluster.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@_DIR
@_URL
@_NAMESPACE
@click.option("--batch-size", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Records per statement (each batch is atomic).")  # fmt: skip
@click.option("--embedder", type=click.Choice(["default", "none"]), default="none", show_default=True,
              help="Embed entities that come without a vector with the packaged model, "
              "or leave them without.")  # fmt: skip
def import_(file: str, root: Path, url: str | None, namespace: str, batch_size: int, embedder: str) -> None:
    """Import FILE (JSON Lines from `graphmem export`, "-" for stdin) into a cluster namespace.

    The same format and checks as `graphmem import`: the whole file is
    checked before anything is written; each batch is one atomic statement
    confirmed by a replica; records are upserts, so re-running is safe.

    \b
    Example:
      graphmem export ./agent_memory dump.jsonl
      graphmem cluster import dump.jsonl --namespace project-a
    """
    from ..transfer import import_jsonl

    with _connect(root, url, namespace, None if embedder == "none" else "default") as mem:
        with click.open_file(file, "rb") as fh:
            counts = import_jsonl(mem, fh, batch_size=batch_size)
    click.echo(f"imported {counts.entities:,} entities and {counts.relations:,} relations into namespace {namespace}")


@cluster.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@_DIR
@_URL
@_NAMESPACE
def export(file: str, root: Path, url: str | None, namespace: str) -> None:
    """Export a cluster namespace to FILE as JSON Lines ("-" for stdout), for `graphmem import`.

    \b
    Example:
      graphmem cluster export dump.jsonl --namespace project-a
      graphmem import ./agent_memory dump.jsonl --embedder none
    """
    from ..transfer import export_jsonl

    with _connect(root, url, namespace, None) as mem:
        if file == "-":
            counts = export_jsonl(mem, click.get_binary_stream("stdout"))
        else:
            # Written beside the target and renamed over it: a file appears only complete.
            tmp = Path(f"{file}.tmp-{os.getpid()}")
            try:
                with open(tmp, "wb") as fh:
                    counts = export_jsonl(mem, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, file)
            finally:
                tmp.unlink(missing_ok=True)
    click.echo(f"exported {counts.entities:,} entities and {counts.relations:,} relations of namespace {namespace}",
               err=True)  # fmt: skip
