"""The ``graphmem`` command line.

Each command parses its arguments, opens the store and calls the library; the
work itself lives in :mod:`graphmem.memory` and :mod:`graphmem.transfer`.
Errors from graphmem print as ``error: <message>`` on stderr with exit status
1 (usage errors exit with 2, as click does), never as a traceback.

Query results are printed as a rich table, JSON (an array of objects, one per
row) or CSV (a header row, then one row per result). JSON and CSV carry
values as JSON does; values JSON lacks are written as strings: timestamps and
dates in ISO 8601, durations as ISO 8601 durations (``P1DT7200S``), decimals
and UUIDs as their text, NaN and infinities as ``"NaN"``, ``"Infinity"``,
``"-Infinity"``, and bytes (BLOBs, such as an entity's int8 embedding) as
standard base64. In CSV, a null is an empty cell and a list or map is its
compact JSON. Tables show bytes as ``<N bytes>``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import graphmem
from graphmem.errors import GraphMemError, ReadOnlyStore
from graphmem.store.engine import ENGINES
from graphmem.transfer import FORMATS, export_jsonl, import_jsonl

__all__ = ["cli", "main"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class CommandFailed(click.ClickException):
    """A failure reported as ``error: <message>`` with exit status 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class _Group(click.Group):
    """Turns graphmem's errors (and OS errors such as a full disk) into ``error:`` lines."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GraphMemError as exc:
            raise CommandFailed(str(exc)) from None
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise  # click silences a closed pipe (`graphmem export ... - | head`)
            raise CommandFailed(str(exc)) from None


class _Settings:
    __slots__ = ("engine",)

    def __init__(self, engine: str) -> None:
        self.engine = engine


def _open(ctx: click.Context, path: Path, *, read_only: bool, embedder: Any = None) -> graphmem.Memory:
    settings: _Settings = ctx.find_object(_Settings)
    return graphmem.open(path, engine=settings.engine, embedder=embedder, read_only=read_only)


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
@click.version_option(graphmem.__version__, prog_name="graphmem")
@click.pass_context
def cli(ctx: click.Context, engine: str) -> None:
    """graphmem: a knowledge-graph memory for AI agents.

    \b
    Example:
      graphmem import ./agent_memory memory.jsonl
      graphmem query ./agent_memory "MATCH (e:Entity) RETURN e.name, e.type LIMIT 5"
    """
    ctx.obj = _Settings(engine)


# -- stats ----------------------------------------------------------------------------


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.pass_context
def stats(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Show counts and sizes of the store at PATH (opened read-only).

    \b
    Example:
      graphmem stats ./agent_memory
      graphmem stats ./agent_memory --json
    """
    with _open(ctx, path, read_only=True) as mem:
        info = mem.stats()
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    console = Console()
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("store", Text(str(info["path"])))
    summary.add_row("engine", Text(str(info["engine"])))
    summary.add_row("schema version", Text(str(info["schema_version"])))
    summary.add_row("entities", Text(f"{info['entities']:,}"))
    summary.add_row("relations", Text(f"{info['relations']:,}"))
    summary.add_row("vector dimension", Text("none" if info["vector_dim"] is None else str(info["vector_dim"])))
    summary.add_row("on disk", Text(_human_bytes(int(info["disk_bytes"]))))
    console.print(summary)
    for title, counts in (("entity types", info["entity_types"]), ("relation types", info["relation_types"])):
        if not counts:
            continue
        table = Table(title=title, title_justify="left")
        table.add_column("type")
        table.add_column("count", justify="right")
        for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            table.add_row(Text(name), f"{count:,}")
        console.print(table)


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


# -- query ----------------------------------------------------------------------------


def _parse_param(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise click.BadParameter(f"{item!r} is not NAME=VALUE (NAME an identifier)", param_hint="--param")
    try:
        return name, json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        return name, raw


def _no_constant(name: str) -> Any:
    raise ValueError(name)


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
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
    help="Output format.",
)
@click.option(
    "-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
    help="Bind $NAME (repeatable). VALUE is parsed as JSON when it can be (3, true, [1,2], \"3\"), else taken as text.",
)
@click.option("--write", is_flag=True, help="Open the store read-write and allow statements that write.")
@click.pass_context
def query(
    ctx: click.Context,
    path: Path,
    cypher: str | None,
    query_file: IO[str] | None,
    fmt: str,
    params: tuple[str, ...],
    write: bool,
) -> None:
    """Run one Cypher statement against the store at PATH.

    The query is CYPHER, or the contents of --file, or stdin when CYPHER is
    "-" or missing and stdin is not a terminal. The store is opened read-only
    unless --write is given. Nodes are (:Entity), relations [:Relation] with
    the relation's kind in its `type` property. JSON and CSV write
    timestamps as ISO 8601 and bytes (such as e.embedding) as base64.

    \b
    Example:
      graphmem query ./agent_memory "MATCH (e:Entity) RETURN e.name, e.type LIMIT 10"
      graphmem query ./agent_memory --format json -p who=Alice \\
          "MATCH (a:Entity {name: $who})-[r:Relation]->(b) RETURN r.type, b.name"
      echo "MATCH (e:Entity) RETURN count(*) AS n" | graphmem query ./agent_memory --format csv
    """
    bound: dict[str, Any] = {}
    for item in params:
        name, value = _parse_param(item)
        if name in bound:
            raise click.BadParameter(f"${name} is given twice", param_hint="--param")
        bound[name] = value
    text = _read_query(cypher, query_file)
    with _open(ctx, path, read_only=not write) as mem:
        try:
            columns, rows = mem.cypher_table(text, bound)
        except ReadOnlyStore as exc:
            if write:
                raise
            raise ReadOnlyStore(f"{exc} (pass --write to allow writes)") from None
    if fmt == "json":
        records = [dict(zip(columns, row)) for row in rows]
        click.echo(json.dumps([_jsonable(r, _base64) for r in records], indent=2, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(_csv(columns, rows), nl=False)
    else:
        _print_table(Console(), columns, rows)


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _blob_size(data: bytes) -> str:
    return f"<{len(data)} bytes>"


def _iso_duration(delta: timedelta) -> str:
    sign = "-" if delta < timedelta(0) else ""
    delta = abs(delta)
    seconds = str(delta.seconds)
    if delta.microseconds:
        seconds = f"{delta.seconds}.{delta.microseconds:06d}".rstrip("0")
    days = f"{delta.days}D" if delta.days else ""
    clock = f"T{seconds}S" if delta.seconds or delta.microseconds or not days else ""
    return f"{sign}P{days}{clock}"


def _jsonable(value: Any, blob: Callable[[bytes], str]) -> Any:
    """``value`` as plain JSON types (see the module notes for the mapping)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return blob(bytes(value))
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _iso_duration(value)
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, blob) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v, blob) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return _jsonable(tolist(), blob)
    return str(value)


def _csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(_jsonable(value, _base64)) for value in row])
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _table_cell(value: Any) -> Text:
    plain = _jsonable(value, _blob_size)
    if plain is None:
        return Text("null", style="dim")
    if not isinstance(plain, str):
        plain = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    # Control characters (such as the key separator U+001F) would be invisible.
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", plain))


def _print_table(console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(*columns, caption=f"{len(rows)} row{'s' if len(rows) != 1 else ''}", caption_justify="left")
    for row in rows:
        table.add_row(*(_table_cell(value) for value in row))
    console.print(table)


# -- import / export ---------------------------------------------------------------


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress callback drawing a bar on stderr when stderr is a terminal."""
    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total, description=description if total is not None else "checking")

        yield update


@contextmanager
def _output(target: str) -> Iterator[IO[bytes]]:
    """A binary stream to ``target`` (``-`` is stdout). A file appears only
    complete: it is written beside the target and renamed over it at the end."""
    if target == "-":
        sys.stdout.flush()  # text already written must come first
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    final = Path(target)
    folder = final.parent if str(final.parent) else Path(".")
    if not folder.is_dir():
        raise CommandFailed(f"cannot write {target}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fh.fileno(), 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cli.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True,
    help="Records per transaction.",
)
@click.option(
    "--embedder", type=click.Choice(["default", "none"]), default="default", show_default=True,
    help="Embed entities that come without a vector with the packaged model (default), or leave them without (none, faster).",
)
@click.pass_context
def import_(ctx: click.Context, path: Path, file: str, batch_size: int, embedder: str) -> None:
    """Import FILE (JSON Lines, "-" for stdin) into the store at PATH.

    FILE is a graphmem export or the reference MCP memory server's
    memory.jsonl; the format is recognised line by line. The whole file is
    checked before anything is written; then each batch is one transaction.
    The store is created if missing. Records are upserts, so re-running an
    import is safe.

    \b
    Example:
      graphmem import ./agent_memory ~/.mcp/memory.jsonl --embedder none
      cat export.jsonl | graphmem import ./agent_memory -
    """
    with _open(ctx, path, read_only=False, embedder=None if embedder == "none" else "default") as mem:
        with click.open_file(file, "rb") as fh, _progress("importing") as progress:
            counts = import_jsonl(mem, fh, batch_size=batch_size, progress=progress)
    click.echo(f"imported {counts.entities:,} entities and {counts.relations:,} relations into {path}")


@cli.command("export")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="graphmem", show_default=True,
    help="graphmem: everything, with embeddings. mcp: the reference MCP memory server's memory.jsonl "
    "(names, types, observations and relations only).",
)
@click.pass_context
def export(ctx: click.Context, path: Path, file: str, fmt: str) -> None:
    """Export the store at PATH to FILE as JSON Lines ("-" for stdout).

    The store is opened read-only. A file is replaced only once the export
    is complete.

    \b
    Example:
      graphmem export ./agent_memory backup.jsonl
      graphmem export ./agent_memory memory.jsonl --format mcp
    """
    with _open(ctx, path, read_only=True) as mem:
        with _output(file) as fh, _progress("exporting") as progress:
            counts = export_jsonl(mem, fh, format=fmt, progress=progress)
    where = "stdout" if file == "-" else file
    click.echo(f"exported {counts.entities:,} entities and {counts.relations:,} relations to {where}", err=True)


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
    from graphmem.demo import run_demo  # the demo loads the embedding model: only when asked for

    run_demo(path, Console(), engine=ctx.find_object(_Settings).engine)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``graphmem`` script and ``python -m graphmem``."""
    cli.main(args=argv, prog_name="graphmem")

