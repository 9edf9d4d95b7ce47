"""The ``graphmem`` command line.

Each command parses its arguments, opens the store and calls the library; the
work itself lives in :mod:`graphmem.memory`, :mod:`graphmem.interchange.transfer` and,
for printing and the console, :mod:`graphmem.console`. Errors from graphmem
print as ``error: <message>`` on stderr with exit status 1 (usage errors exit
with 2, as click does), never as a traceback.

Results are printed as a rich table, JSON (an array of objects, one per row)
or CSV (a header row, then one row per result); how values JSON lacks are
written is described in :mod:`graphmem.console.render`.

Over 500 lines: one thin function per command (parse, open, call the library,
print) for some twenty commands and their options.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

import graphmem
from graphmem.console import FORMATS as _PRINT_FORMATS
from graphmem.errors import FileAccessRefused, GraphMemError, ReadOnlyStore, StoreLocked
from graphmem.store.engine import ENGINES
from graphmem.interchange.transfer import FORMATS

# Each command imports what it alone needs (rich and the console's printing, the
# transfer functions, the MCP server, the viewer, the benchmarks) when it runs:
# `graphmem mcp` answers its client sooner for every module it does not load.

__all__ = ["cli", "main"]

_OUTPUT_FORMATS = click.Choice(list(_PRINT_FORMATS))
# "hash" is graphmem.HashEmbedder (64-d, no model, no meaning beyond shared words): for tests and
# for stores written with it; it is left out of the help on purpose.
_EMBEDDERS = ("default", "none", "hash")


class CommandFailed(click.ClickException):
    """A failure reported as ``error: <message>`` with exit status 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class _Group(click.Group):
    """Turns graphmem's errors (and OS errors such as a full disk) into ``error:`` lines, and
    loads the optional cluster backend's ``cluster`` commands only when one is run or listed."""

    _LAZY = {"cluster": ("graphmem.backends.cluster.cli", "cluster")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._LAZY and cmd_name not in self.commands:
            import importlib

            module, attribute = self._LAZY[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GraphMemError as exc:
            raise CommandFailed(str(exc)) from None
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise  # click silences a closed pipe (`graphmem export ... - | head`)
            raise CommandFailed(str(exc)) from None


class _Exit:
    """Whether the process may end without the interpreter's teardown.

    A read-only command that has closed its store leaves nothing to save,
    but the interpreter's exit still finalises every module (numba and
    LLVM among them): ~0.2 s of CPU after a path query's answer is printed,
    a fifth of the whole call. Such a command arms this once its store is
    closed; :func:`main` (the script, not click's test runner) then ends
    the process with ``os._exit`` after flushing the output.
    """

    armed = False


def _store_closed_after_reading() -> None:
    _Exit.armed = True


def _start_numba_without_extras() -> None:
    """Start numba now, without its cffi and scipy.linalg integrations
    (:func:`graphmem.warm.start_kernels`): a command that runs kernels calls
    this first. Only here, in a process graphmem owns: a library must not
    change numba's features for the rest of its host."""
    from graphmem.warm import start_kernels

    start_kernels(without_extras=True)


class _Settings:
    __slots__ = ("engine", "namespace")

    def __init__(self, engine: str, namespace: str) -> None:
        self.engine = engine
        self.namespace = namespace


def _settings(ctx: click.Context) -> _Settings:
    """The group's --engine and --namespace (set by ``cli`` before any command runs)."""
    settings = ctx.find_object(_Settings)
    if settings is None:  # a command invoked without the group (only Python callers can)
        raise click.UsageError("run the command through the graphmem group, which reads --engine and --namespace")
    return settings


def _open(ctx: click.Context, path: Path, *, read_only: bool, embedder: Any = None,
          background_embedding: bool = False) -> graphmem.Memory:  # fmt: skip
    settings = _settings(ctx)
    return graphmem.open(path, engine=settings.engine, embedder=embedder, read_only=read_only,
                         namespace=settings.namespace, background_embedding=background_embedding)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="kuzu",
    envvar="GRAPHMEM_ENGINE",
    show_default=True,
    show_envvar=True,
    help="Graph engine of the store (a store is readable only by the engine that made it).",
)
@click.option(
    "--namespace",
    default="default",
    envvar="GRAPHMEM_NAMESPACE",
    show_default=True,
    show_envvar=True,
    help="Namespace every command reads and writes (Cypher queries see all namespaces).",
)
@click.version_option(graphmem.__version__, prog_name="graphmem")
@click.pass_context
def cli(ctx: click.Context, engine: str, namespace: str) -> None:
    """graphmem: a knowledge-graph memory for AI agents.

    \b
    Example:
      graphmem import ./agent_memory memory.jsonl
      graphmem query ./agent_memory "MATCH (e:Entity) RETURN e.name, e.type LIMIT 5"
      graphmem --namespace project-a search ./agent_memory "who builds pipelines?"
    """
    ctx.obj = _Settings(engine, namespace)


# -- stats ----------------------------------------------------------------------------


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.option("--watch", is_flag=True, help="Show them again every --interval seconds until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@click.option("--iterations", type=click.IntRange(min=1), default=None,
              help="With --watch, stop after this many refreshes (default: until Ctrl-C).")
@click.pass_context
def stats(ctx: click.Context, path: Path, as_json: bool, watch: bool, interval: float,
          iterations: int | None) -> None:
    """Show counts and sizes of the store at PATH (opened read-only).

    With --watch the store is opened for each refresh, so a writer may hold it
    between refreshes; a refresh that finds it held says so and waits.

    \b
    Example:
      graphmem stats ./agent_memory
      graphmem stats ./agent_memory --json
      graphmem stats ./agent_memory --watch --interval 5
    """
    from rich.console import Console

    from graphmem.console import render

    console = Console()
    shown = 0
    while True:
        try:
            with _open(ctx, path, read_only=True) as mem:
                info = mem.stats()
        except StoreLocked as exc:
            if not watch:
                raise
            console.print(f"[dim]{exc}; retrying in {interval:g} s[/dim]")
        else:
            if as_json:
                click.echo(json.dumps(info, indent=2 if not watch else None, ensure_ascii=False, default=str))
            else:
                if watch:
                    console.clear()
                for renderable in render.stats_renderables(info):
                    console.print(renderable)
        shown += 1
        if not watch or (iterations is not None and shown >= iterations):
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


# -- query ----------------------------------------------------------------------------


def _parse_param(item: str) -> tuple[str, Any]:
    from graphmem.console.commands import parse_value

    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise click.BadParameter(f"{item!r} is not NAME=VALUE (NAME an identifier)", param_hint="--param")
    return name, parse_value(raw)


def _bound(pairs: Sequence[tuple[str, str]], items: Sequence[str]) -> dict[str, Any]:
    """Parameters from ``-p NAME VALUE`` pairs and ``--param NAME=VALUE`` items."""
    from graphmem.console.commands import parse_value

    bound: dict[str, Any] = {}
    named = [(name, parse_value(raw), "-p") for name, raw in pairs]
    named += [(*_parse_param(item), "--param") for item in items]
    for name, value, hint in named:
        if not name.isidentifier():
            extra = " (NAME=VALUE goes with --param)" if "=" in name else ""
            raise click.BadParameter(f"{name!r} is not a parameter name{extra}", param_hint="-p NAME VALUE")
        if name in bound:
            raise click.BadParameter(f"${name} is given twice", param_hint=hint)
        bound[name] = value
    return bound


_PARAM_OPTIONS = (
    click.option("-p", "pairs", nargs=2, multiple=True, metavar="NAME VALUE",
                 help="Bind $NAME (repeatable). VALUE is parsed as JSON when it can be (3, true, [1,2], \"3\"), "
                 "else taken as text."),
    click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Bind $NAME, the other spelling."),
)  # fmt: skip


def _param_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_PARAM_OPTIONS):
        fn = option(fn)
    return fn


def _format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--format", "fmt", type=_OUTPUT_FORMATS, default="table", show_default=True,
                        help="Output format.")(fn)  # fmt: skip


def _read_query(cypher: str | None, query_file: IO[str] | None) -> str:
    if query_file is not None and cypher is not None:
        raise click.UsageError("give the query either as CYPHER or with --file, not both")
    if query_file is not None:
        text = query_file.read()
    elif cypher == "-" or (cypher is None and not sys.stdin.isatty()):
        try:
            text = sys.stdin.buffer.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise click.UsageError(f"the query on stdin is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    elif cypher is None:
        raise click.UsageError("no query: give CYPHER, --file FILE, or pipe the query on stdin")
    else:
        text = cypher
    if not text.strip():
        raise click.UsageError("the query is empty")
    return text


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("cypher", required=False)
@click.option("-f", "--file", "query_file", type=click.File("r", encoding="utf-8"), help="Read the query from FILE.")
@_format_option
@_param_options
@click.option("--write", is_flag=True, help="Open the store read-write and allow statements that write.")
@click.option("--allow-file-access", is_flag=True,
              help="Allow Cypher that reads or writes files, the network or extensions (LOAD FROM 'file', "
              "COPY ... TO, EXPORT DATABASE, INSTALL...). --write does not imply it.")  # fmt: skip
@click.pass_context
def query(
    ctx: click.Context,
    path: Path,
    cypher: str | None,
    query_file: IO[str] | None,
    fmt: str,
    pairs: tuple[tuple[str, str], ...],
    params: tuple[str, ...],
    write: bool,
    allow_file_access: bool,
) -> None:
    """Run one Cypher statement against the store at PATH.

    The query is CYPHER, or the contents of --file, or stdin when CYPHER is
    "-" or missing and stdin is not a terminal. The store is opened read-only
    unless --write is given; a statement that touches files, the network or
    extensions is refused unless --allow-file-access is given. Nodes are (:Entity), relations [:Relation] with
    the relation's kind in its `type` property. JSON and CSV write
    timestamps as ISO 8601 and bytes (such as e.embedding) as base64.
    Parameters the statement does not use are ignored.

    \b
    Example:
      graphmem query ./agent_memory "MATCH (e:Entity) RETURN e.name, e.type LIMIT 10"
      graphmem query ./agent_memory --format json -p who Alice \\
          "MATCH (a:Entity {name: $who})-[r:Relation]->(b) RETURN r.type, b.name"
      echo "MATCH (e:Entity) RETURN count(*) AS n" | graphmem query ./agent_memory --format csv
    """
    from graphmem.console import render
    from graphmem.console.script import parameter_names

    bound = _bound(pairs, params)
    text = _read_query(cypher, query_file)
    used = {name: bound[name] for name in parameter_names(text) if name in bound}  # the engine refuses extra ones
    with _open(ctx, path, read_only=not write) as mem:
        try:
            columns, rows = mem.cypher_table(text, used, allow_file_access=allow_file_access)
        except FileAccessRefused as exc:
            raise FileAccessRefused(f"{exc} (pass --allow-file-access to allow it)", clause=exc.clause) from None
        except ReadOnlyStore as exc:
            if write:
                raise
            raise ReadOnlyStore(f"{exc} (pass --write to allow writes)") from None
    render.Output(fmt=fmt, interactive=False).result(columns, rows)


# -- console, search, path ------------------------------------------------------------


def _embedder(name: str) -> Any:
    if name == "hash":
        return graphmem.HashEmbedder()
    return None if name == "none" else "default"


def _embedder_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--embedder", type=click.Choice(_EMBEDDERS), default="default", show_default=True, metavar="default|none",
        help="How query text is embedded: default (the packaged all-MiniLM-L6-v2, loaded on first use) or none.",
    )(fn)  # fmt: skip


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--write", is_flag=True, help="Open the store read-write: Cypher that writes is allowed.")
@click.option("--allow-file-access", is_flag=True,
              help="Allow Cypher that reads or writes files, the network or extensions. --write does not imply it.")
@_format_option
@_param_options
@_embedder_option
@click.pass_context
def console(
    ctx: click.Context,
    path: Path,
    write: bool,
    allow_file_access: bool,
    fmt: str,
    pairs: tuple[tuple[str, str], ...],
    params: tuple[str, ...],
    embedder: str,
) -> None:
    """The Cypher console on the store at PATH (read-only unless --write;
    no file, network or extension access unless --allow-file-access).

    Type Cypher ending with ';' (it may span lines) or meta-commands
    starting with ':' (:help, :schema, :stats, :search TEXT -> name,
    :path A B, :neighbors X, :param NAME VALUE, :format, :timing). Tab
    completes keywords, properties, types and entity names; Ctrl-C cancels
    the line, Ctrl-D quits. History is kept in $GRAPHMEM_HISTORY, else
    $XDG_STATE_HOME/graphmem/history.

    With stdin from a file or a pipe, the statements and meta-commands run in
    order and the results are printed in --format (JSON: one line per result;
    CSV: blocks separated by a blank line); errors go to stderr with their
    line, and the exit status is 1 if any statement failed.

    \b
    Example:
      graphmem console ./agent_memory
      graphmem console ./agent_memory --format json < checks.cypher
    """
    from graphmem.console import render
    from graphmem.console.app import open_for_console, run_console  # prompt_toolkit only when needed

    settings = _settings(ctx)
    warn = render.Output(interactive=False).warn
    mem = open_for_console(path, engine=settings.engine, embedder=_embedder(embedder), write=write, warn=warn)
    with mem:
        status = run_console(mem, fmt=fmt, params=_bound(pairs, params), allow_file_access=allow_file_access)
    ctx.exit(status)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("text", required=False)
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many hits.")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only entities of this type (repeatable).")
@click.option("--near", metavar="NAME", multiple=True,
              help="Only entities connected to NAME (repeatable: any of them); each hit comes with its path.")
@click.option("--hops", type=click.IntRange(min=0), help="With --near: at most this many relations away.")
@click.option("--direction", type=click.Choice(["both", "out", "in"]),
              help="With --near: which way relations are followed.")
@click.option("--relation-type", "relation_types", multiple=True, metavar="TYPE",
              help="With --near: follow only relations of this type (repeatable).")
@click.option("--rank", type=click.Choice(["similarity", "hybrid"]),
              help="With --near: hybrid scores similarity * decay ** hops.")
@click.option("--decay", type=float, help="With --rank hybrid: the weight per hop (default 0.5).")
@click.option("--vector", metavar="JSON", help="Search with this vector (a JSON list of numbers) instead of TEXT.")
@click.option("--like", metavar="NAME", help="Search with entity NAME's stored vector instead of TEXT.")
@_format_option
@_embedder_option
@click.pass_context
def search(
    ctx: click.Context,
    path: Path,
    text: str | None,
    k: int,
    types: tuple[str, ...],
    near: tuple[str, ...],
    hops: int | None,
    direction: str | None,
    relation_types: tuple[str, ...],
    rank: str | None,
    decay: float | None,
    vector: str | None,
    like: str | None,
    fmt: str,
    embedder: str,
) -> None:
    """The entities of the store at PATH most similar to TEXT, best first.

    TEXT is embedded with --embedder (the packaged model by default; it
    loads in a few seconds); or search with --vector, or --like an entity
    already stored. Prints name, type and cosine score; with --near, also
    each hit's distance and path from the nearest of those entities.

    \b
    Example:
      graphmem search ./agent_memory "who builds data pipelines?" -k 5 --type Person
      graphmem search ./agent_memory "rust" --near "Zoë Müller" --hops 2 --rank hybrid
      graphmem search ./agent_memory --like "Zoë Müller" --format json
      graphmem search ./agent_memory --vector "[0.1, 0.2, 0.3]" --format csv
    """
    from graphmem.console import render, results

    if sum(x is not None for x in (text, vector, like)) != 1:
        raise click.UsageError("give one of TEXT, --vector and --like")
    query: Any = text
    if vector is not None:
        try:
            query = json.loads(vector)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--vector") from None
    with _open(ctx, path, read_only=True, embedder=_embedder(embedder) if text is not None else None) as mem:
        if like is not None:
            query = results.like(mem, like)
        hits = results.search(
            mem, query, k=k, types=types, exclude=like, near=list(near) or None, hops=hops, direction=direction,
            relation_types=list(relation_types) or None, rank=rank, decay=decay,
        )  # fmt: skip
        results.show_hits(render.Output(fmt=fmt, interactive=False), mem, hits)
    _store_closed_after_reading()


@cli.command("path")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("source")
@click.argument("target")
@click.option("--max-hops", type=click.IntRange(min=0), help="Longest path to accept.")
@click.option("--direction", type=click.Choice(["both", "out", "in"]), default="both", show_default=True,
              help="out: follow relations from SOURCE towards TARGET; in: against them; both: either way.")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only relations of this type (repeatable).")
@click.option("--all", "all_paths", is_flag=True, help="Every shortest path, not just one.")
@_format_option
@click.pass_context
def path_(
    ctx: click.Context,
    path: Path,
    source: str,
    target: str,
    max_hops: int | None,
    direction: str,
    types: tuple[str, ...],
    all_paths: bool,
    fmt: str,
) -> None:
    """A shortest path between entities SOURCE and TARGET in the store at PATH.

    Table: the path as a chain, each relation's arrow pointing the way it is
    stored. JSON: an array of paths ({hops, nodes, relations, directions});
    CSV: one row per hop. No path prints "no path" (JSON [], CSV the header)
    and exits 0; an unknown name is an error.

    \b
    Example:
      graphmem path ./agent_memory "Zoë Müller" "Kestrel Software"
      graphmem path ./agent_memory Alice Bob --max-hops 3 --type KNOWS --format json
    """
    from graphmem.console import render, results

    from graphmem.warm import kernels_for

    with _open(ctx, path, read_only=True) as mem, kernels_for(len(mem), without_extras=True):
        found = results.find_paths(mem, source, target, all_paths=all_paths, max_hops=max_hops, types=types,
                                   direction=direction)  # fmt: skip
        results.show_paths(render.Output(fmt=fmt, interactive=False), mem, found, source=source, target=target)
    _store_closed_after_reading()


# -- import / export ---------------------------------------------------------------


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress callback drawing a bar on stderr when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn,
        TimeRemainingColumn,
    )  # fmt: skip
    from rich.text import Text

    class _RateColumn(ProgressColumn):
        """Records (or lines, while checking) per second, as rich estimates it over its recent updates."""

        def render(self, task: Task) -> Text:
            speed = task.speed
            return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")

    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("checking", total=None)
        writing = False

        def update(done: int, total: int | None) -> None:
            nonlocal writing
            if total is not None and not writing:
                # The count starts again (lines checked -> records written):
                # a fresh task, so the rate and ETA are of the writing alone.
                writing = True
                bar.reset(task, total=total, completed=done, description=description)
            else:
                bar.update(task, completed=done, total=total)

        yield update


@cli.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True,
    help="Records per transaction.",
)
@click.option(
    "--embedder", type=click.Choice(["default", "none"]), default="default", show_default=True,
    help="Embed entities that come without a vector with the packaged model (default), "
    "or leave them without (none, faster).",
)
@click.pass_context
def import_(ctx: click.Context, path: Path, file: str, batch_size: int, embedder: str) -> None:
    """Import FILE (JSON Lines, "-" for stdin) into the store at PATH.

    FILE is a graphmem export or the reference MCP memory server's
    memory.jsonl; the format is recognised line by line. The whole file is
    checked before anything is written; then each batch is one transaction.
    The store is created if missing. Records are upserts, so re-running an
    import is safe. A FILE inside a store's folder is refused.

    \b
    Example:
      graphmem import ./agent_memory ~/.mcp/memory.jsonl --embedder none
      cat export.jsonl | graphmem import ./agent_memory -
    """
    from graphmem.interchange.transfer import check_input_path, import_jsonl

    source: str | Path = file if file == "-" else check_input_path(file)  # before the store is created
    with _open(ctx, path, read_only=False, embedder=None if embedder == "none" else "default") as mem:
        with click.open_file(str(source), "rb") as fh, _progress("importing") as progress:
            counts = import_jsonl(mem, fh, batch_size=batch_size, progress=progress)
    click.echo(f"imported {counts.entities:,} entities and {counts.relations:,} relations into {path}")


@cli.command("export")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(allow_dash=True))  # a folder is refused by check_output_path
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="graphmem", show_default=True,
    help="graphmem: everything, with embeddings. mcp: the reference MCP memory server's memory.jsonl "
    "(names, types, observations and relations only).",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists (never a file inside a store).")
@click.pass_context
def export(ctx: click.Context, path: Path, file: str, fmt: str, force: bool) -> None:
    """Export the store at PATH to FILE as JSON Lines ("-" for stdout).

    The store is opened read-only. FILE is made owner-only (0600: it holds
    the whole memory) and appears only once the export is complete. An
    existing FILE is refused unless --force; a FILE inside any store's
    folder (after following symlinks and "..") is always refused.

    \b
    Example:
      graphmem export ./agent_memory backup.jsonl
      graphmem export ./agent_memory memory.jsonl --format mcp
    """
    from graphmem.interchange.transfer import check_output_path, export_jsonl

    target = None if file == "-" else check_output_path(file, force=force)  # before anything is opened
    with _open(ctx, path, read_only=True) as mem, _progress("exporting") as progress:
        if target is None:
            sys.stdout.flush()  # text already written must come first
            counts = export_jsonl(mem, sys.stdout.buffer, format=fmt, progress=progress)
            sys.stdout.buffer.flush()
        else:
            counts = export_jsonl(mem, target, format=fmt, progress=progress, force=force)
    where = "stdout" if file == "-" else file
    click.echo(f"exported {counts.entities:,} entities and {counts.relations:,} relations to {where}", err=True)


# -- mcp ------------------------------------------------------------------------------


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@_embedder_option
@click.option(
    "--semantic-search-nodes", is_flag=True,
    help="search_nodes also returns the entities closest in meaning (default: text matches only, as the "
         "reference; a call's semantic argument overrides this)",
)  # fmt: skip
@click.option("--http", "http_address", metavar="HOST:PORT", default=None,
              help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (a loopback host only; "
                   "port 0 picks a free one). Every request needs the bearer token.")  # fmt: skip
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --http: read the bearer token from this owner-only file (else $GRAPHMEM_MCP_TOKEN, "
                   "else PATH/graphmem.mcp-token, created with a random token).")  # fmt: skip
@click.pass_context
def mcp(ctx: click.Context, path: Path, embedder: str, semantic_search_nodes: bool, http_address: str | None,
        token_file: Path | None) -> None:  # fmt: skip
    """Serve the memory at PATH to an agent over MCP (stdin/stdout, or HTTP with --http).

    The tools of the reference memory server (create_entities, search_nodes,
    ...) with the same arguments and results, plus semantic_search,
    find_path, neighbors, recall and cypher_query. Clients may subscribe to
    memory://knowledge-graph and are told of every write, through any server
    on PATH. Several servers may use one PATH: the first holds the store, the
    others go through it (a Unix socket in PATH), and one takes over when it
    exits. Needs the 'mcp' extra.

    With --http, one server answers several agents at http://HOST:PORT/mcp
    (loopback only); each request must send "Authorization: Bearer TOKEN",
    the token coming from --token-file, $GRAPHMEM_MCP_TOKEN or
    PATH/graphmem.mcp-token (created 0600 when missing). The URL is printed
    on stderr, the token never.

    \b
    Example:
      graphmem mcp ~/.graphmem/memory
      claude mcp add memory -- graphmem mcp ~/.graphmem/memory
      graphmem mcp ~/.graphmem/memory --http 127.0.0.1:8765
    """
    try:
        from graphmem.mcp.server import serve
    except ImportError as exc:
        raise CommandFailed(f"the MCP server needs the 'mcp' extra ({exc.name} is missing): "
                            "pip install 'graphmem[mcp]'") from None  # fmt: skip
    if token_file is not None and http_address is None:
        raise click.UsageError("--token-file goes with --http")
    chosen = _embedder(embedder)

    def warm_up() -> None:
        # Called once the client has listed the tools and the in-memory indexes are
        # loaded (build_server), so the first answer never waits for it: one
        # thread starts numba (ahead of the first call that needs a kernel)
        # without its two extras (see
        # _start_numba_without_extras: 0.3-0.4 s of CPU), then the model loads,
        # after it: the model's stack imports scipy.linalg, refused meanwhile.
        # The first search by meaning then waits only for what is left of the model.
        def run() -> None:
            _start_numba_without_extras()
            if chosen == "default":
                graphmem.DefaultEmbedder.load_in_background()

        threading.Thread(target=run, name="graphmem-mcp-warm-up", daemon=True).start()

    if chosen == "default":
        # Entities the store holds without vectors are looked for, and embedded,
        # once warm_up lets the model load, after the client's first answers.
        graphmem.DefaultEmbedder.defer_loading()
    # Writes return once committed; their entities are embedded right after, in a
    # thread (semantic_search waits for that; a crash leaves it to the next start).
    open_memory = lambda: _open(ctx, path, read_only=False, embedder=chosen, background_embedding=True)  # noqa: E731
    namespace = _settings(ctx).namespace
    if http_address is None:
        status = serve(path, open_memory, semantic_search_nodes=semantic_search_nodes, warm_up=warm_up,
                       namespace=namespace)
    else:
        from graphmem.mcp.http import parse_address, resolve_token, serve_http

        host, port = parse_address(http_address)
        path.expanduser().mkdir(parents=True, exist_ok=True, mode=0o700)
        token, source = resolve_token(path.expanduser(), token_file)
        click.echo(f"graphmem mcp: bearer token from {source}", err=True)
        status = serve_http(path, open_memory, host=host, port=port, token=token,
                            semantic_search_nodes=semantic_search_nodes, warm_up=warm_up, namespace=namespace,
                            on_listening=lambda url: click.echo(f"graphmem mcp: serving {url}", err=True))  # fmt: skip
    # Everything is closed and every answer written: skip the interpreter's
    # own teardown, which takes seconds once the model has loaded torch (and
    # would wait for the threads of a terminal reader left blocked).
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)


# -- view -----------------------------------------------------------------------------


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--namespace", "view_namespace", metavar="NS",
              help="Namespace to show (default: the global --namespace).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")
@click.option("--html", "html", type=click.Path(path_type=Path),
              help="Write a self-contained page of one neighbourhood to this file instead of serving.")
@click.option("--centre", "--center", "centre", metavar="NAME", help="With --html: the entity the page centres on.")
@click.option("--hops", type=click.IntRange(min=1, max=6), default=2, show_default=True,
              help="With --html: how many relations away from --centre the page reaches.")
@click.option("--max-entities", type=click.IntRange(min=1), default=200, show_default=True,
              help="With --html: at most this many entities (the nearest).")
@click.option("--force", is_flag=True, help="With --html: replace the file if it exists.")
@click.option("--hold", type=click.FloatRange(min=0, max=3600), default=None, metavar="SECONDS",
              help="Open the store per request and keep it this long after the last one (0: close after "
                   "every request); an agent cannot open it read-write meanwhile. Default: keep it open "
                   "and let go whenever an agent opens it read-write.")
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@_embedder_option
@click.pass_context
def view(ctx: click.Context, path: Path, view_namespace: str | None, port: int, html: Path | None,
         centre: str | None, hops: int, max_entities: int, force: bool, hold: float | None, no_browser: bool,
         embedder: str) -> None:
    """See the memory at PATH in a browser: a local, read-only graph explorer.

    Serves a page on 127.0.0.1 (a free port unless --port) and prints its
    URL, whose token works once. The store is kept open read-only, and
    let go as soon as an agent opens it read-write (the page says "busy"
    while one holds it). With --html, writes a
    self-contained page of the neighbourhood of --centre instead, to open
    from disk.

    \b
    Example:
      graphmem view ./agent_memory
      graphmem view ./agent_memory --html alice.html --centre Alice
    """
    from graphmem.embed import resolve_embedder
    from graphmem.view import serve, write_html

    settings = _settings(ctx)
    namespace = view_namespace if view_namespace is not None else settings.namespace
    if html is not None:
        if centre is None:
            raise click.UsageError("--html needs --centre NAME: the entity the page shows")
        with graphmem.open(path, engine=settings.engine, embedder=None, read_only=True, namespace=namespace) as mem:
            written = write_html(mem, html, centre, hops=hops, max_entities=max_entities, force=force)
        click.echo(f"wrote {written}", err=True)
        return
    chosen = resolve_embedder(_embedder(embedder))
    serve(path, engine=settings.engine, namespace=namespace, embedder=chosen, port=port, hold=hold,
          open_browser=not no_browser,
          announce=lambda url: click.echo(f"graphmem view: open {url}  (Ctrl-C stops)", err=False))  # fmt: skip


# -- demo -----------------------------------------------------------------------------


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.pass_context
def demo(ctx: click.Context, path: Path | None) -> None:
    """Build a small memory and walk through search, paths and Cypher.

    Without PATH the demo memory is temporary and is removed at the end.

    \b
    Example:
      graphmem demo
      graphmem demo ./demo_memory
    """
    from rich.console import Console

    from graphmem.demo import run_demo  # the demo loads the embedding model: only when asked for

    run_demo(path, Console(), engine=_settings(ctx).engine)


# -- bench ------------------------------------------------------------------------------


@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("--quick", is_flag=True, help="10k entities, few repetitions: a check in under 5 minutes.")
@click.option("--sizes", metavar="N[,N]", help="Entity counts (default 10000,100000,1000000).")
@click.option("--engines", metavar="E[,E]", help="Engines to measure (default kuzu,ladybug).")
@click.option("--only", metavar="NAME[,NAME]", help="Suites or benchmarks to run (default: all).")
@click.argument("runner_args", nargs=-1, type=click.UNPROCESSED)
def bench(quick: bool, sizes: str | None, engines: str | None, only: str | None,
          runner_args: tuple[str, ...]) -> None:  # fmt: skip
    """Run the benchmark suites and write benchmarks/RESULTS.md with its plots.

    Needs a source checkout (the benchmarks are not in the wheel) and the
    bench extra (pip install -e '.[bench]'). Further options go to
    `python -m benchmarks.run` as they are (see its --help).

    \b
    Example:
      graphmem bench --quick
      graphmem bench --sizes 10000,100000 --only ops,peers
    """
    root = _source_checkout()
    argv = ["--quick"] if quick else []
    for flag, value in (("--sizes", sizes), ("--engines", engines), ("--only", only)):
        if value:
            argv += [flag, value]
    # A child process with the checkout as its working directory imports
    # ``benchmarks`` from there, so this process's import path stays as the
    # user set it (the runner starts one process per engine anyway).
    code = subprocess.run([sys.executable, "-m", "benchmarks.run", *argv, *runner_args], cwd=root,
                          check=False).returncode  # fmt: skip
    if code:
        raise CommandFailed(f"the benchmark run failed (exit status {code}); see the log above")


def _source_checkout() -> Path:
    """The source checkout this graphmem is installed from, which holds ``benchmarks/``."""
    root = Path(graphmem.__file__).resolve().parent.parent
    if not (root / "benchmarks" / "run.py").is_file():
        raise CommandFailed("the benchmarks ship with the source checkout, not the package: run "
                            "`graphmem bench` from an editable install (pip install -e '.[bench]')")  # fmt: skip
    return root


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``graphmem`` script and ``python -m graphmem``."""
    _Exit.armed = False
    try:
        cli.main(args=argv, prog_name="graphmem")
    except SystemExit as exc:
        if _Exit.armed and exc.code in (0, None):
            logging.shutdown()
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except OSError:
                raise exc from None  # the output could not be written: exit as usual, reporting it
            os._exit(0)
        raise

