"""Printing results: rich tables, JSON and CSV, for the CLI and the console.

JSON and CSV carry values as JSON does; values JSON lacks are written as
strings: timestamps and dates in ISO 8601, durations as ISO 8601 durations
(``P1DT7200S``), decimals and UUIDs as their text, NaN and infinities as
``"NaN"``, ``"Infinity"``, ``"-Infinity"``, and bytes (BLOBs, such as an
entity's int8 embedding) as standard base64. In CSV, a null is an empty
cell and a list or map is its compact JSON. Tables show bytes as
``<N bytes>`` and control characters (such as the key separator U+001F) as
``\\x1f``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from . import FORMATS  # defined in the package, which the CLI reads without loading rich

__all__ = [
    "FORMATS",
    "Output",
    "jsonable",
    "to_csv",
    "to_json",
    "result_table",
    "stats_renderables",
    "human_bytes",
]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


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


def jsonable(value: Any, blob: Callable[[bytes], str] = _base64) -> Any:
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
        return {str(k): jsonable(v, blob) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, blob) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return jsonable(tolist(), blob)
    return str(value)


def to_json(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: int | None = 2) -> str:
    """An array with one object per row."""
    records = [{c: jsonable(v) for c, v in zip(columns, row)} for row in rows]
    separators = None if indent else (",", ":")
    return json.dumps(records, indent=indent, ensure_ascii=False, separators=separators)


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A header row, then one row per result."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(jsonable(value)) for value in row])
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _table_cell(value: Any) -> Text:
    plain = jsonable(value, _blob_size)
    if plain is None:
        return Text("null", style="dim")
    if not isinstance(plain, str):
        plain = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", plain))


def result_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, note: str = "") -> Table:
    caption = f"{len(rows)} row{'s' if len(rows) != 1 else ''}{note}"
    table = Table(caption=caption, caption_justify="left", min_width=len(caption))
    for i, column in enumerate(columns):
        numbers = [row[i] for row in rows if row[i] is not None]
        numeric = bool(numbers) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers)
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_table_cell(value) for value in row))
    return table


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


def stats_renderables(info: Mapping[str, Any]) -> list[RenderableType]:
    """``Memory.stats()`` as a summary grid and a table per kind of type."""
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("store", Text(str(info["path"])))
    summary.add_row("engine", Text(str(info["engine"])))
    summary.add_row("schema version", Text(str(info["schema_version"])))
    summary.add_row("entities", Text(f"{info['entities']:,}"))
    summary.add_row("relations", Text(f"{info['relations']:,}"))
    summary.add_row("vector dimension", Text("none" if info["vector_dim"] is None else str(info["vector_dim"])))
    summary.add_row("on disk", Text(human_bytes(int(info["disk_bytes"]))))
    out: list[RenderableType] = [summary]
    for title, counts in (("entity types", info["entity_types"]), ("relation types", info["relation_types"])):
        if not counts:
            continue
        table = Table(title=title, title_justify="left")
        table.add_column("type")
        table.add_column("count", justify="right")
        for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            table.add_row(Text(name), f"{count:,}")
        out.append(table)
    if info.get("namespaces"):
        table = Table(title="namespaces", title_justify="left")
        for column in ("namespace", "entities", "relations"):
            table.add_column(column, justify="left" if column == "namespace" else "right")
        for name, counts in info["namespaces"].items():
            table.add_row(Text(name), f"{counts['entities']:,}", f"{counts['relations']:,}")
        out.append(table)
    if info.get("tiers"):
        out.append(Text("tiers: " + ", ".join(f"{k} {v:,}" for k, v in info["tiers"].items())))
    if info.get("bytes"):
        parts = ", ".join(f"{k.replace('_', ' ')} {human_bytes(int(v))}" for k, v in info["bytes"].items()
                          if v is not None)
        out.append(Text("bytes: " + parts))
    return out


def _pager_command() -> list[str] | None:
    """GRAPHMEM_PAGER, else PAGER, else ``less`` if installed; an empty value means no pager."""
    for variable in ("GRAPHMEM_PAGER", "PAGER"):
        value = os.environ.get(variable)
        if value is not None:
            return shlex.split(value) or None
    if shutil.which("less"):
        # -R keeps colours, -S chops long lines instead of wrapping, -X leaves the
        # text on screen after quitting, -F quits at once if it fits after all.
        return ["less", "-RSXF"]
    return None


class Output:
    """Where results and messages go, in the chosen format.

    Interactive: results, messages and errors go to the terminal, a table
    taller than the screen through a pager. Scripted (stdin is a file):
    results go to stdout, JSON one compact line per result (JSON Lines), CSV
    blocks separated by a blank line; messages and errors go to stderr so
    stdout stays machine-readable.
    """

    def __init__(self, *, fmt: str = "table", interactive: bool, json_lines: bool = False,
                 console: Console | None = None, err_console: Console | None = None) -> None:  # fmt: skip
        self.fmt = fmt
        self.json_lines = json_lines  # scripted console: one compact line per result; else indented
        self.interactive = interactive
        self.pager = interactive
        self.timing = False
        self.console = console or Console(highlight=False)
        self.err = err_console or (self.console if interactive else Console(stderr=True, highlight=False))
        self._results = 0

    # -- results -------------------------------------------------------------------

    def result(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, elapsed: float | None = None) -> None:
        note = f" ({elapsed * 1000:,.1f} ms)" if elapsed is not None and self.timing else ""
        if not columns and self.fmt != "json":  # a statement that returns nothing (CREATE without RETURN)
            self.info(f"done{note}")
            return
        if self.fmt == "table":
            self.show(result_table(columns, rows, note=note))
            return
        if self.fmt == "json":
            if self.interactive:
                self.console.print_json(to_json(columns, rows, indent=None), indent=2)
            else:
                self._raw(to_json(columns, rows, indent=None if self.json_lines else 2) + "\n")
        else:
            separator = "\n" if self._results and not self.interactive else ""
            self._raw(separator + to_csv(columns, rows))
        self._results += 1
        if note:
            self.info(note.strip(" ()"))

    def data(self, value: Any, renderables: Sequence[RenderableType] = ()) -> None:
        """A JSON-ready value: JSON in json format, else the given renderables (CSV has no
        shape for it, so csv prints JSON too)."""
        if self.fmt == "table" and renderables:
            self.show(Group(*renderables))  # one piece, so the pager sees its whole height
        elif self.interactive:
            self.console.print_json(json.dumps(jsonable(value), ensure_ascii=False), indent=2)
        elif self.json_lines:
            self._raw(json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            self._raw(json.dumps(jsonable(value), ensure_ascii=False, indent=2) + "\n")

    def show(self, renderable: RenderableType) -> None:
        """Print a rich renderable; through the pager when it is taller than the screen."""
        if not (self.interactive and self.pager and self.console.is_terminal):
            self.console.print(renderable)
            return
        with self.console.capture() as capture:
            self.console.print(renderable)
        text = capture.get()
        command = _pager_command()
        if command is None or text.count("\n") < self.console.size.height - 1:
            self.console.file.write(text)
            self.console.file.flush()
            return
        try:
            subprocess.run(command, input=text.encode("utf-8"), check=False)
        except OSError:
            self.console.file.write(text)  # the pager could not start: print it all
            self.console.file.flush()

    def _raw(self, text: str) -> None:
        stream = self.console.file
        stream.write(text)
        stream.flush()

    @contextmanager
    def busy(self, message: str) -> Iterator[None]:
        """A spinner while something slow runs (such as the first search, which loads the model)."""
        if self.interactive and self.console.is_terminal:
            with self.console.status(Text(message, style="dim"), spinner="dots"):
                yield
        else:
            yield

    # -- messages ------------------------------------------------------------------

    def info(self, message: str) -> None:
        if self.interactive:
            self.console.print(Text(message, style="dim"))
        else:
            self.err.print(Text(message), soft_wrap=True)

    def error(self, message: str) -> None:
        self._message(Text("error: ", style="bold red") + Text(message))

    def warn(self, message: str) -> None:
        self._message(Text("warning: ", style="bold yellow") + Text(message))

    def _message(self, text: Text) -> None:
        # On screen the message's first line is word-wrapped; the statement and the caret
        # under it that follow in an engine's message, and anything for a log or a
        # script, keep their lines as they are (wrapping would misplace the caret).
        if not self.interactive:
            self.err.print(text, soft_wrap=True)
            return
        head, *rest = text.split("\n")
        self.err.print(head)
        if rest:
            self.err.print(Text("\n").join(rest), soft_wrap=True)
