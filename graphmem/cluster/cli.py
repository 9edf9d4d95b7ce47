"""``graphmem cluster ...``: a local FalkorDB Redis Cluster for development, and rebalancing."""

from __future__ import annotations

import json
from pathlib import Path

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
