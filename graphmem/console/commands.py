"""The console's session: runs Cypher statements and meta-commands.

A :class:`Session` holds the open Memory, the Cypher parameters set with
``:param`` (or bound by ``:search ... -> name``), and the output settings.
Every failure is reported and the session goes on: the engine's message for
bad Cypher, a clear sentence for a refused write or a bad meta-command.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from ..errors import FileAccessRefused, GraphMemError, ReadOnlyStore
from ..memory import Memory
from . import results
from .catalog import Catalog
from .render import FORMATS, Output, stats_renderables
from .script import Item, parameter_names

__all__ = ["Session", "CommandError", "Quit", "Command", "COMMANDS", "Args", "parse_args", "parse_value"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DIRECTIONS = ("out", "in", "both")


class CommandError(Exception):
    """A meta-command was used wrongly; the message says how to use it."""


def parse_value(raw: str) -> Any:
    """A parameter value: JSON when it parses as JSON (3, true, [1,2], "3"), else the text itself.

    >>> parse_value("42"), parse_value('["a", 1]'), parse_value("Zoë Müller"), parse_value('"7"')
    (42, ['a', 1], 'Zoë Müller', '7')
    """
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        return raw


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON: keep them as text


# -- meta-command arguments ------------------------------------------------------------


@dataclass
class Args:
    words: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    bind: str | None = None

    @property
    def text(self) -> str:
        return " ".join(self.words)


def _tokens(line: str) -> Iterator[tuple[str, bool]]:
    """Words of ``line``; a word that starts with a quote runs to the matching quote
    (so ``"Zoë Müller"`` is one word, while the apostrophe in ``who's`` is text).
    ``key="a b"`` is one word too. Yields (word, quoted)."""
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        m = re.match(r"([A-Za-z_]+=)?(['\"])", line[i:])
        if m:
            quote = m.group(2)
            start = i + m.end()
            end = line.find(quote, start)
            if end < 0:
                raise CommandError(f"unclosed {quote} in: {line[i:]}")
            yield (m.group(1) or "") + line[start:end], not m.group(1)
            i = end + 1
            continue
        end = i
        while end < n and not line[end].isspace():
            end += 1
        yield line[i:end], False
        i = end


def parse_args(line: str, options: Sequence[str] = ()) -> Args:
    """Split a meta-command's arguments into words, ``key=value`` options and ``-> name``.

    >>> a = parse_args('"Zoë Müller" Acme hops=3 -> p', ["hops"])
    >>> a.words, a.options, a.bind
    (['Zoë Müller', 'Acme'], {'hops': '3'}, 'p')
    """
    args = Args()
    tokens = list(_tokens(line))
    i = 0
    while i < len(tokens):
        word, quoted = tokens[i]
        if not quoted and word.startswith("->"):
            name = word[2:] or (tokens[i + 1][0] if i + 1 < len(tokens) else "")
            rest = tokens[i + 1 :] if word[2:] else tokens[i + 2 :]
            if not _IDENTIFIER.match(name) or rest:
                raise CommandError("-> must end the command and be followed by one parameter name, e.g. -> hits")
            args.bind = name
            break
        key, sep, value = word.partition("=")
        if not quoted and sep and key in options:
            if key in args.options:
                raise CommandError(f"{key}= is given twice")
            args.options[key] = value
        else:
            args.words.append(word)
        i += 1
    return args


def _int_option(args: Args, key: str, *, minimum: int = 1) -> int | None:
    raw = args.options.get(key)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise CommandError(f"{key}= takes a whole number, not {raw!r}") from None
    if value < minimum:
        raise CommandError(f"{key}= must be at least {minimum}")
    return value


def _list_option(args: Args, key: str) -> list[str] | None:
    raw = args.options.get(key)
    return None if raw is None else [t for t in raw.split(",") if t]


def _float_option(args: Args, key: str) -> float | None:
    raw = args.options.get(key)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise CommandError(f"{key}= takes a number, not {raw!r}") from None


def _near(session: Session, args: Args) -> str | list[str] | None:
    """near=NAME, or near=$param: the names in a parameter (such as one bound by -> name)."""
    raw = args.options.get("near")
    if raw is None or not raw.startswith("$"):
        return raw
    value = session.params.get(raw[1:])
    if value is None:
        raise CommandError(f"near={raw}: no parameter {raw}; :params lists them")
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CommandError(f"near={raw} needs a name or a list of names")
    return names


def _direction(args: Args) -> str:
    direction = args.options.get("dir", "both")
    if direction not in _DIRECTIONS:
        raise CommandError(f"dir= is one of {', '.join(_DIRECTIONS)}, not {direction!r}")
    return direction


# -- the session -------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Callable[[Session, str], None]
    aliases: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # key= options, for completion
    requires: str | None = None  # the Memory method it needs, where older graphmem lacks it


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, summary: str, *, aliases: tuple[str, ...] = (), options: tuple[str, ...] = (),
            requires: str | None = None) -> Callable[[Callable[[Session, str], None]], Callable[[Session, str], None]]:  # fmt: skip
    def register(fn: Callable[[Session, str], None]) -> Callable[[Session, str], None]:
        cmd = Command(name, usage, summary, fn, aliases, options, requires)
        for key in (name, *aliases):
            COMMANDS[key] = cmd
        return fn

    return register


class Quit(Exception):
    """Raised by :quit to end the session."""


class Session:
    """Runs what the user types against one open Memory."""

    def __init__(self, mem: Memory, out: Output, *, catalog: Catalog | None = None,
                 params: dict[str, Any] | None = None, allow_file_access: bool = False) -> None:  # fmt: skip
        self.mem = mem
        # Only --allow-file-access sets it (--write does not): statements that
        # read or write files, the network or extensions are refused otherwise.
        self.allow_file_access = allow_file_access
        self.out = out
        self.catalog = catalog or Catalog(mem)
        self.params: dict[str, Any] = dict(params or {})
        self.failures = 0

    def run(self, item: Item, *, where: str = "") -> bool:
        """Run one item; False when it failed (reported already). Raises :class:`Quit`."""
        try:
            if item.kind == "meta":
                self.meta(item.text)
            else:
                self.cypher(item.text)
            return True
        except Quit:
            raise
        except ReadOnlyStore as exc:
            if self.mem.read_only:
                self._fail(where, "refused: this statement writes, and the console has the store open read-only; "
                                  "nothing was changed (start the console with --write to allow writes)")  # fmt: skip
            else:
                self._fail(where, str(exc))
        except FileAccessRefused as exc:
            self._fail(where, f"{exc} (start the console with --allow-file-access to allow it)")
        except (GraphMemError, CommandError) as exc:
            self._fail(where, str(exc))
        except KeyboardInterrupt:
            self._fail(where, "cancelled")
        except Exception as exc:  # noqa: BLE001 - a shell must survive a bug in what it calls, and say so
            self._fail(where, f"internal error, please report it: {type(exc).__name__}: {exc}")
        return False

    def _fail(self, where: str, message: str) -> None:
        self.failures += 1
        self.out.error(f"{where}{message}")

    @contextmanager
    def timer(self) -> Iterator[list[float]]:
        box: list[float] = []
        start = time.perf_counter()
        yield box
        box.append(time.perf_counter() - start)

    # -- Cypher --------------------------------------------------------------------------

    def cypher(self, text: str) -> None:
        names = parameter_names(text)
        missing = [n for n in names if n not in self.params]
        if missing:
            listed = ", ".join(f"${n}" for n in missing)
            raise CommandError(f"the statement uses {listed}, which is not set: set it with :param {missing[0]} VALUE")
        params = {n: self.params[n] for n in names}  # the engine refuses parameters a statement does not use
        start = time.perf_counter()
        try:
            columns, rows = self.mem.cypher_table(text, params or None, allow_file_access=self.allow_file_access)
        finally:
            if not self.mem.read_only:
                self.catalog.invalidate()  # it may have written: types and counts may have changed
        self.out.result(columns, rows, elapsed=time.perf_counter() - start)

    # -- meta-commands -------------------------------------------------------------------

    def meta(self, line: str) -> None:
        name, _, rest = line[1:].strip().partition(" ")
        cmd = COMMANDS.get(name.lower())
        if cmd is None:
            raise CommandError(f"unknown command :{name}; :help lists the commands")
        cmd.run(self, rest.strip())

    def bind(self, name: str | None, names: Sequence[str]) -> None:
        if name is None:
            return
        self.params[name] = list(names)
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        self.out.info(f"${name} = [{shown}] ({len(names)} name{'s' if len(names) != 1 else ''})")


# -- the commands ------------------------------------------------------------------------


@command("help", ":help [COMMAND]", "this help, or one command's", aliases=("h", "?"))
def _help(session: Session, rest: str) -> None:
    wanted = rest.lstrip(":").strip()
    order = ("schema", "stats", "search", "path", "paths", "neighbors", "recall", "param", "params", "unset",
             "format", "timing", "pager", "help", "quit")  # fmt: skip
    unique = {c.name: c for c in COMMANDS.values()}
    shown = sorted(unique.values(), key=lambda c: (order.index(c.name) if c.name in order else len(order), c.name))
    if wanted:
        if wanted not in COMMANDS:
            raise CommandError(f"no command :{wanted}")
        shown = [COMMANDS[wanted]]
    entries: list[RenderableType] = []
    for cmd in shown:
        # Text, not markup: "[k=10]" must print as it is.
        missing = cmd.requires is not None and not hasattr(session.mem, cmd.requires)
        summary = Text(cmd.summary) + (Text(" (not available in this version)", style="yellow") if missing else Text())
        entries += [Text(cmd.usage, style="bold cyan"), Padding(summary, (0, 0, 0, 4))]
    listing = Group(*entries)
    notes = Text.from_markup(
        "Cypher statements end with [bold];[/] and may span lines; meta-commands start with [bold]:[/] and end at "
        "the line's end.\nTab completes keywords, tables, properties, entity and relation types, and names after "
        ":path / :neighbors.\nCtrl-C cancels the line, Ctrl-D quits. Nodes are (:Entity), relations [:Relation]; "
        "types are the `type` property: :schema shows examples."
    )
    session.out.show(Group(listing, Text(""), notes) if not wanted else listing)


@command("quit", ":quit", "leave the console (or Ctrl-D)", aliases=("exit", "q"))
def _quit(session: Session, rest: str) -> None:
    raise Quit


@command("format", ":format table|json|csv", "how results are printed")
def _format(session: Session, rest: str) -> None:
    if not rest:
        session.out.info(f"format: {session.out.fmt}")
        return
    if rest not in FORMATS:
        raise CommandError(f":format takes one of {', '.join(FORMATS)}, not {rest!r}")
    session.out.fmt = rest
    session.out.info(f"format: {rest}")


def _switch(rest: str, current: bool, what: str) -> bool:
    if not rest:
        return not current
    if rest not in ("on", "off"):
        raise CommandError(f"{what} takes on or off, not {rest!r}")
    return rest == "on"


@command("timing", ":timing [on|off]", "show how long each statement and command took")
def _timing(session: Session, rest: str) -> None:
    session.out.timing = _switch(rest, session.out.timing, ":timing")
    session.out.info(f"timing is {'on' if session.out.timing else 'off'}")


@command("pager", ":pager [on|off]", "page results taller than the screen ($GRAPHMEM_PAGER, $PAGER or less)")
def _pager(session: Session, rest: str) -> None:
    session.out.pager = _switch(rest, session.out.pager, ":pager")
    session.out.info(f"pager is {'on' if session.out.pager else 'off'}")


@command("params", ":params", "the parameters set, usable as $name in Cypher")
def _params(session: Session, rest: str) -> None:
    if rest:
        raise CommandError(":params takes no arguments; :param NAME VALUE sets one")
    rows = [[name, value] for name, value in sorted(session.params.items())]
    session.out.result(["name", "value"], rows)


@command("param", ":param NAME VALUE", "set $NAME; VALUE is JSON when it parses (3, true, [1,2], \"x\"), else text")
def _param(session: Session, rest: str) -> None:
    name, _, raw = rest.partition(" ")
    if not _IDENTIFIER.match(name) or not raw.strip():
        raise CommandError("usage: :param NAME VALUE, e.g. :param who \"Zoë Müller\" or :param n 3")
    value = parse_value(raw.strip())
    session.params[name] = value
    session.out.info(f"${name} = {json.dumps(value, ensure_ascii=False)}")


@command("unset", ":unset NAME", "forget parameter $NAME")
def _unset(session: Session, rest: str) -> None:
    if rest not in session.params:
        raise CommandError(f"no parameter ${rest}; :params lists them")
    del session.params[rest]


@command("stats", ":stats", "counts and sizes of the store")
def _stats(session: Session, rest: str) -> None:
    info = session.mem.stats()
    session.out.data(info, stats_renderables(info))


@command("schema", ":schema", "tables, properties, types with counts, and example queries")
def _schema(session: Session, rest: str) -> None:
    from .schema import schema_data, schema_renderables  # only when asked for

    catalog = session.catalog
    catalog.invalidate()
    session.out.data(schema_data(catalog), schema_renderables(catalog))


_SEARCH_OPTIONS = ("k", "type", "like", "near", "hops", "dir", "rel", "rank", "decay")


@command("search", ":search TEXT|like=NAME [k=10] [type=T,..] [near=NAME|$list hops=N dir=.. rel=T,.. "
                   "rank=similarity|hybrid decay=0.5] [-> name]",
         "the entities most similar to TEXT (or to entity NAME), within hops of near= if given, with the "
         "path from it; -> name binds the hit names as $name",
         options=_SEARCH_OPTIONS)  # fmt: skip
def _search(session: Session, rest: str) -> None:
    args = parse_args(rest, _SEARCH_OPTIONS)
    if bool(args.words) == ("like" in args.options):
        raise CommandError("usage: :search TEXT [k=10] [type=Person] [-> name], or :search like=NAME [k=10] ...")
    k = _int_option(args, "k") or 10
    query = results.like(session.mem, args.options["like"]) if "like" in args.options else args.text
    with session.out.busy("searching (the first search loads the embedding model)"), session.timer() as elapsed:
        hits = results.search(
            session.mem, query, k=k, types=_list_option(args, "type"), exclude=args.options.get("like"),
            near=_near(session, args), hops=_int_option(args, "hops", minimum=0),
            direction=args.options.get("dir"), relation_types=_list_option(args, "rel"),
            rank=args.options.get("rank"), decay=_float_option(args, "decay"),
        )  # fmt: skip
    results.show_hits(session.out, session.mem, hits, elapsed=elapsed[0])
    session.bind(args.bind, [h.name for h in hits])


def _path_command(session: Session, rest: str, *, all_paths: bool) -> None:
    args = parse_args(rest, ("hops", "dir", "type"))
    if len(args.words) != 2:
        raise CommandError(f'usage: :{"paths" if all_paths else "path"} A B [hops=N] [dir=out|in|both] [type=T,..]; '
                           'quote names with spaces: "Zoë Müller"')  # fmt: skip
    source, target = args.words
    with session.timer() as elapsed:
        paths = results.find_paths(session.mem, source, target, all_paths=all_paths,
                                   max_hops=_int_option(args, "hops", minimum=0),
                                   types=_list_option(args, "type"), direction=_direction(args))  # fmt: skip
    results.show_paths(session.out, session.mem, paths, source=source, target=target, elapsed=elapsed[0])
    session.bind(args.bind, list(dict.fromkeys(n for p in paths for n in p.nodes)))


@command("path", ":path A B [hops=N] [dir=out|in|both] [type=T,..] [-> name]",
         "a shortest path from A to B; -> name binds its entities", options=("hops", "dir", "type"))  # fmt: skip
def _path(session: Session, rest: str) -> None:
    _path_command(session, rest, all_paths=False)


@command("paths", ":paths A B [hops=N] [dir=..] [type=..] [-> name]", "every shortest path from A to B",
         options=("hops", "dir", "type"))  # fmt: skip
def _paths(session: Session, rest: str) -> None:
    _path_command(session, rest, all_paths=True)


@command("neighbors", ":neighbors NAME [dir=out|in|both] [type=T,..] [-> name]",
         "the entities one relation away from NAME", aliases=("neighbours",), options=("dir", "type"))  # fmt: skip
def _neighbors(session: Session, rest: str) -> None:
    args = parse_args(rest, ("dir", "type"))
    if not args.words:
        raise CommandError("usage: :neighbors NAME [dir=out|in|both] [type=WORKS_AT]")
    with session.timer() as elapsed:
        found = session.mem.neighbors(args.text, direction=_direction(args), types=_list_option(args, "type"))
    results.show_neighbors(session.out, found, elapsed=elapsed[0])
    session.bind(args.bind, list(dict.fromkeys(n.name for n in found)))


_RECALL_OPTIONS = ("k", "hops", "max_entities", "max_relations", "type", "dir", "rel", "decay", "like", "chars")


@command("recall", ":recall TEXT|like=NAME [k=10] [hops=1] [max_entities=30] [max_relations=60] [type=T,..] "
                   "[dir=..] [rel=T,..] [decay=0.5] [chars=N] [-> name]",
         "what the memory knows about TEXT: the best matches, expanded by hops, ranked and capped; chars=N "
         "shows the text an agent would get (at most N characters)",
         options=_RECALL_OPTIONS, requires="recall")  # fmt: skip
def _recall(session: Session, rest: str) -> None:
    recall = getattr(session.mem, "recall", None)
    if recall is None:
        raise CommandError(":recall is not available in this version of graphmem (Memory.recall arrives with "
                           "composed queries); :search and :neighbors answer in the meantime")  # fmt: skip
    args = parse_args(rest, _RECALL_OPTIONS)
    if bool(args.words) == ("like" in args.options):
        raise CommandError("usage: :recall TEXT [k=10] [hops=1] [-> name], or :recall like=NAME ...")
    given = {
        "k": _int_option(args, "k"),
        "hops": _int_option(args, "hops", minimum=0),
        "max_entities": _int_option(args, "max_entities"),
        "max_relations": _int_option(args, "max_relations", minimum=0),
        "types": _list_option(args, "type"),
        "direction": _direction(args) if "dir" in args.options else None,
        "relation_types": _list_option(args, "rel"),
        "decay": _float_option(args, "decay"),
    }
    kwargs = {key: value for key, value in given.items() if value is not None}
    for key in kwargs:
        if not results.accepts(recall, key):
            raise CommandError(f"recall({key}=...) is not available in this version of graphmem")
    query = results.like(session.mem, args.options["like"]) if "like" in args.options else args.text
    with session.out.busy("recalling"), session.timer() as elapsed:
        found = recall(query, **kwargs)
    results.show_recall(session.out, found, chars=_int_option(args, "chars"), elapsed=elapsed[0])
    session.bind(args.bind, [e.name for e in found.entities])

