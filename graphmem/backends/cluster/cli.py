"""``graphmem cluster ...``: a local FalkorDB Redis Cluster for development, rebalancing, and migration (JSONL)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ...errors import InvalidInput
from ...store.files import read_secret, write_secret
from .router import redact_url

__all__ = ["cluster"]

_DIR = click.option("--dir", "root", type=click.Path(path_type=Path), default=Path("graphmem-cluster"),
                    show_default=True, help="The cluster's data folder (owner-only; holds cluster.json).")  # fmt: skip


@click.group()
def cluster() -> None:
    """A local FalkorDB Redis Cluster (127.0.0.1 only) for the cluster backend.

    The cluster's URL carries its password. Commands that connect take it
    from GRAPHMEM_CLUSTER_URL or --url-file (a file only its owner may read),
    or from the local cluster's --dir; --url also works, but a command line
    is visible to every local user (ps). Output shows the URL without its
    password.

    \b
    Example:
      graphmem cluster up --primaries 3 --replicas 1 --url-file ~/.graphmem-cluster-url
      graphmem cluster export dump.jsonl --url-file ~/.graphmem-cluster-url
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
@click.option("--url-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the URL, with its password, to this file (created 0600) for --url-file.")
@click.option("--show-password", is_flag=True,
              help="Print the URL with its password (by default it is shown as ***).")
def up(root: Path, primaries: int, replicas: int, node_timeout: int, url_file: Path | None,
       show_password: bool) -> None:  # fmt: skip
    """Start a new cluster (or the stopped one in --dir) and print its URL.

    The URL is printed without its password unless --show-password; the
    password is in --dir's cluster.json (0600), and --url-file writes the
    whole URL to an owner-only file that the other commands' --url-file reads.
    """
    from .local import STATE_FILE, LocalCluster

    if (root / STATE_FILE).exists():
        local = LocalCluster.load(root).start()
    else:
        local = LocalCluster(root, primaries=primaries, replicas=replicas, node_timeout_ms=node_timeout).up()
    if url_file is not None:
        write_url_file(url_file, local.url)
    shown = local.url if show_password else redact_url(local.url)
    click.echo(f"cluster up: {len(local.nodes)} nodes on 127.0.0.1 ports {', '.join(map(str, local.ports))}")
    click.echo(f"data: {local.root} (the password is in {local.root / STATE_FILE})")
    click.echo(f"connect: graphmem.connect({shown!r}, namespace=...)")
    if url_file is not None:
        click.echo(f"the URL with its password is in {url_file} (mode 0600): pass --url-file {url_file}")
    elif not show_password:
        click.echo("the password is hidden: --show-password prints it, --url-file PATH writes it to a 0600 file")


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
                    help="redis+cluster://[:PASSWORD@]HOST:PORT of the cluster (default: the local one in --dir). "
                    "Prefer the environment variable or --url-file: a password on the command line "
                    "is visible to other local users (ps).")  # fmt: skip
_URL_FILE = click.option("--url-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="Read the URL from this file (its first line); the file must not be readable "
                         "by group or others (chmod 600). Wins over GRAPHMEM_CLUSTER_URL.")  # fmt: skip
_NAMESPACE = click.option("--namespace", envvar="GRAPHMEM_NAMESPACE", show_envvar=True, default="default",
                          show_default=True, help="The namespace (one graph) to read or write.")  # fmt: skip


def read_url_file(path: Path) -> str:
    """The cluster URL in ``path`` (its first line), refusing a file that
    group or others may read or write: it carries the password."""
    return read_secret(path, "URL file", secret="password")


def write_url_file(path: Path, url: str) -> None:
    """Write ``url`` to ``path`` as a new owner-only file, renamed into place
    (an existing file is replaced: it is the same cluster's URL)."""
    write_secret(path, url)


def cluster_url(root: Path, url: str | None, url_file: Path | None, *, url_from_argv: bool = False) -> str:
    """The URL to connect to: --url-file, else --url / GRAPHMEM_CLUSTER_URL, else the local cluster in ``root``."""
    from .local import LocalCluster

    if url_file is not None:
        if url is not None and url_from_argv:
            raise InvalidInput("give the cluster URL once: --url or --url-file, not both")
        return read_url_file(url_file)
    if url is not None:
        return url
    return LocalCluster.load(root).url


def _connect(url: str, namespace: str, embedder: Any) -> Any:
    from .memory import connect

    return connect(url, namespace=namespace, embedder=embedder)


def _url_of(ctx: click.Context, root: Path, url: str | None, url_file: Path | None) -> str:
    source = ctx.get_parameter_source("url")
    return cluster_url(root, url, url_file, url_from_argv=source == click.core.ParameterSource.COMMANDLINE)


@cluster.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@_DIR
@_URL
@_URL_FILE
@_NAMESPACE
@click.option("--batch-size", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Records per statement (each batch is atomic).")  # fmt: skip
@click.option("--embedder", type=click.Choice(["default", "none"]), default="none", show_default=True,
              help="Embed entities that come without a vector with the packaged model, "
              "or leave them without.")  # fmt: skip
@click.pass_context
def import_(ctx: click.Context, file: str, root: Path, url: str | None, url_file: Path | None, namespace: str,
            batch_size: int, embedder: str) -> None:  # fmt: skip
    """Import FILE (JSON Lines from `graphmem export`, "-" for stdin) into a cluster namespace.

    The same format and checks as `graphmem import`: the whole file is
    checked before anything is written; each batch is one atomic statement
    confirmed by a replica; records are upserts, so re-running is safe.

    \b
    Example:
      graphmem export ./agent_memory dump.jsonl
      graphmem cluster import dump.jsonl --namespace project-a
    """
    from ...interchange.transfer import check_input_path, import_jsonl

    source = file if file == "-" else str(check_input_path(file))
    with _connect(_url_of(ctx, root, url, url_file), namespace, None if embedder == "none" else "default") as mem:
        with click.open_file(source, "rb") as fh:
            counts = import_jsonl(mem, fh, batch_size=batch_size)
    click.echo(f"imported {counts.entities:,} entities and {counts.relations:,} relations into namespace {namespace}")


@cluster.command("export")
@click.argument("file", type=click.Path(allow_dash=True))
@_DIR
@_URL
@_URL_FILE
@_NAMESPACE
@click.option("--force", is_flag=True, help="Replace FILE if it exists (never a file inside a store).")
@click.pass_context
def export(ctx: click.Context, file: str, root: Path, url: str | None, url_file: Path | None, namespace: str,
           force: bool) -> None:  # fmt: skip
    """Export a cluster namespace to FILE as JSON Lines ("-" for stdout), for `graphmem import`.

    As with `graphmem export`: FILE is made 0600 and appears only complete;
    an existing FILE needs --force, and a FILE inside a store is refused.

    \b
    Example:
      graphmem cluster export dump.jsonl --namespace project-a
      graphmem import ./agent_memory dump.jsonl --embedder none
    """
    from ...interchange.transfer import check_output_path, export_jsonl

    target = None if file == "-" else check_output_path(file, force=force)  # before connecting
    with _connect(_url_of(ctx, root, url, url_file), namespace, None) as mem:
        if target is None:
            # sys.stdout.buffer as `graphmem export` does: click deprecates get_binary_stream (8.5).
            counts = export_jsonl(mem, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            counts = export_jsonl(mem, target, force=force)
    click.echo(f"exported {counts.entities:,} entities and {counts.relations:,} relations of namespace {namespace}",
               err=True)  # fmt: skip
