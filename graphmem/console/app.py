"""``graphmem console PATH``: the interactive prompt, and the same commands from a file.

Interactive (stdin is a terminal): a prompt_toolkit prompt with persistent
history, multi-line statements (Enter runs the input once it ends with
``;`` or is a ``:command``, else starts a new line), Tab completion, Cypher
highlighting; Ctrl-C cancels the line, Ctrl-D quits.

Scripted (``graphmem console PATH < file.cypher``): every statement and
meta-command runs in order, results go to stdout in the chosen format and
errors to stderr with their line; the exit status is 1 if anything failed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.filters import completion_is_selected
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexers.graph import CypherLexer
from rich.text import Text

from ..errors import InvalidInput
from ..memory import Memory, open_memory
from .commands import Quit, Session
from .completion import ConsoleCompleter
from .render import Output
from .script import Item, split_script

__all__ = ["run_console", "open_for_console", "history_path", "HISTORY_ENV"]

HISTORY_ENV = "GRAPHMEM_HISTORY"


def history_path() -> Path | None:
    """$GRAPHMEM_HISTORY (empty: keep no history), else $XDG_STATE_HOME/graphmem/history
    (~/.local/state/graphmem/history)."""
    configured = os.environ.get(HISTORY_ENV)
    if configured is not None:
        return Path(configured).expanduser() if configured else None
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "graphmem" / "history"


def open_for_console(path: Path, *, engine: str, embedder: Any, write: bool, warn: Any) -> Memory:
    """Open the store; if the embedder's dimension does not match the store's
    vectors, open it without one (text search then says so) rather than refuse
    to start: the console is for looking at any store."""
    try:
        return open_memory(path, engine=engine, embedder=embedder, read_only=not write)
    except InvalidInput as exc:
        if embedder is None:
            raise
        mem = open_memory(path, engine=engine, embedder=None, read_only=not write)
        warn(f"{exc}; text search is off (choose another --embedder, or search like a stored entity: "
             ":search like=NAME)")
        return mem


def run_console(mem: Memory, *, fmt: str = "table", params: Mapping[str, Any] | None = None,
                stdin: IO[str] | None = None, allow_file_access: bool = False) -> int:  # fmt: skip
    """Run the console on ``mem``; returns the exit status. Cypher that reads or
    writes files, reaches the network or loads extensions is refused unless
    ``allow_file_access`` (``--allow-file-access``; ``--write`` does not imply it)."""
    stream = stdin if stdin is not None else sys.stdin
    if stream.isatty():
        return _interactive(mem, fmt, params, allow_file_access)
    return _scripted(mem, fmt, params, stream, allow_file_access)


def _scripted(mem: Memory, fmt: str, params: Mapping[str, Any] | None, stream: IO[str],
              allow_file_access: bool) -> int:  # fmt: skip
    session = Session(mem, Output(fmt=fmt, interactive=False, json_lines=True), params=dict(params or {}),
                      allow_file_access=allow_file_access)  # fmt: skip
    raw = getattr(stream, "buffer", None)
    try:
        # Bytes decoded as UTF-8 whatever the locale says (a BOM from an editor is dropped).
        text = raw.read().decode("utf-8-sig") if raw is not None else stream.read()
    except UnicodeDecodeError as exc:
        session.out.error(f"the input is not UTF-8 ({exc.reason} at byte {exc.start})")
        return 1
    split = split_script(text)
    items = list(split.items)
    if split.rest:  # the last statement may omit its ;
        items.append(Item("cypher", split.rest, split.rest_line))
    for item in items:
        try:
            session.run(item, where=f"line {item.line}: ")
        except Quit:
            break
    if split.open_comment:
        session.out.error("the input ends inside a /* comment */")
        return 1
    return 1 if session.failures else 0


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter", filter=completion_is_selected)
    def _take_completion(event: KeyPressEvent) -> None:
        event.current_buffer.complete_state = None  # Enter on the menu picks the entry, it does not run

    @bindings.add("enter", filter=~completion_is_selected)
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if split_script(buffer.text).complete:
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    return bindings


def _history(out: Output) -> History:
    where = history_path()
    if where is None:
        return InMemoryHistory()
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        where.touch(mode=0o600, exist_ok=True)  # statements may hold private values: keep them private
    except OSError as exc:
        out.warn(f"history is not kept: cannot write {where} ({exc.strerror}); set {HISTORY_ENV} to another file")
        return InMemoryHistory()
    return FileHistory(str(where))


def _banner(mem: Memory, session: Session) -> None:
    from .. import __version__

    info = session.catalog.stats
    mode = Text("read-only", style="green") if mem.read_only else Text("read-write (--write)", style="bold red")
    if session.allow_file_access:
        mode += Text(", file access (--allow-file-access)", style="bold red")
    head = Text(f"graphmem {__version__} console: {mem.path} ({mem.engine}, ") + mode + Text(")")
    session.out.console.print(head)
    session.out.console.print(
        f"{info['entities']:,} entities, {info['relations']:,} relations, {len(info['entity_types'])} entity types, "
        f"{len(info['relation_types'])} relation types.",
        highlight=False,
    )
    session.out.console.print(
        Text("Statements end with ';'. :help lists the commands, :schema shows the data model, Ctrl-D quits.",
             style="dim")
    )


def _interactive(mem: Memory, fmt: str, params: Mapping[str, Any] | None, allow_file_access: bool) -> int:
    out = Output(fmt=fmt, interactive=True)
    session = Session(mem, out, params=dict(params or {}), allow_file_access=allow_file_access)
    name = mem.path.name if mem.path else "memory"
    marker = [] if mem.read_only else [("fg:ansired bold", " (write)")]
    message = FormattedText([("bold", name), *marker, ("", "> ")])
    width = len(name) + (8 if not mem.read_only else 0)
    continuation = FormattedText([("fg:ansibrightblack", "." * width + "> ")])
    prompt: PromptSession[str] = PromptSession(
        message=message,
        multiline=True,
        prompt_continuation=lambda *_: continuation,
        key_bindings=_key_bindings(),
        lexer=PygmentsLexer(CypherLexer),
        completer=ConsoleCompleter(session),
        complete_while_typing=False,  # Tab completes: names come from the store, not on every key
        history=_history(out),
        enable_history_search=False,
    )
    _banner(mem, session)
    while True:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue  # Ctrl-C: drop the line, keep the console
        except EOFError:
            break  # Ctrl-D on an empty line
        split = split_script(text)
        try:
            for item in split.items:
                session.run(item)
            if split.rest:  # Alt-Enter (prompt_toolkit's accept) ran it without its ;
                session.run(Item("cypher", split.rest, split.rest_line))
        except Quit:
            break
    out.console.print(Text("bye", style="dim"))
    return 0
