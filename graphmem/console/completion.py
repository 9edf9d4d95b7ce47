"""Tab completion for the console: Cypher keywords and functions, tables,
properties, entity and relation types, parameters, and entity names after
``:path`` / ``:neighbors`` (and inside ``{name: '...'}``).

Names come from the store through :class:`Catalog` (a prefix query with a
``$parameter`` and a LIMIT), types and tables from its cached catalog.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from ..errors import GraphMemError
from .catalog import NODE_TABLES, REL_TABLES, Catalog
from .commands import COMMANDS, Session
from .render import FORMATS
from .script import code_state, split_script

__all__ = ["ConsoleCompleter", "KEYWORDS"]

KEYWORDS = (
    "MATCH", "OPTIONAL MATCH", "WHERE", "RETURN", "WITH", "UNWIND", "ORDER BY", "LIMIT", "SKIP", "DISTINCT",
    "AS", "AND", "OR", "XOR", "NOT", "IN", "IS NULL", "IS NOT NULL", "STARTS WITH", "ENDS WITH", "CONTAINS",
    "CASE", "WHEN", "THEN", "ELSE", "END", "ASC", "DESC", "UNION", "UNION ALL", "CALL", "YIELD", "EXISTS",
    "COUNT", "TRUE", "FALSE", "NULL", "SHORTEST", "ALL SHORTEST", "PROFILE", "EXPLAIN", "CREATE", "MERGE",
    "SET", "DELETE", "DETACH DELETE", "REMOVE", "ON CREATE SET", "ON MATCH SET",
)  # fmt: skip

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PROPERTY_BEFORE_STRING = re.compile(r"(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)\s*(?::|=|<>)\s*\Z")
_NAME_ARGUMENT_COMMANDS = {"path", "paths", "neighbors", "neighbours"}
_TYPE_LIKE = re.compile(r"\A(type|near|like)=(.*)\Z", re.S)


def _quoted(name: str) -> str:
    return f'"{name}"' if (not name or any(c.isspace() or c in "\"'" for c in name)) else name


class ConsoleCompleter(Completer):
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def catalog(self) -> Catalog:
        return self.session.catalog

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        try:
            yield from self._completions(document)
        except GraphMemError as exc:
            # Completion reads the store; if that fails, say so in the menu (an entry that
            # inserts nothing) rather than break the prompt or print over it.
            yield Completion("", 0, display="(no completions)", display_meta=str(exc)[:80])

    def _completions(self, document: Document) -> Iterator[Completion]:
        before = document.text_before_cursor
        split = split_script(before)
        if split.rest:  # inside an unfinished Cypher statement
            yield from self._cypher(split.rest, document)
        elif split.items and split.items[-1].kind == "meta" and not before.endswith("\n"):
            yield from self._meta(before.rsplit("\n", 1)[-1].lstrip())  # the raw line: its trailing space matters
        else:
            yield from self._cypher("", document)

    # -- meta-commands -------------------------------------------------------------------

    def _meta(self, line: str) -> Iterator[Completion]:
        head, space, rest = line[1:].partition(" ")
        if not space:
            for name, cmd in sorted(COMMANDS.items()):
                if name.startswith(head.lower()) and name == cmd.name:
                    yield Completion(f":{name}", start_position=-len(line), display_meta=cmd.summary)
            return
        name = head.lower()
        word = _last_word(rest)
        if name in ("format",):
            yield from _words(FORMATS, word)
        elif name in ("timing", "pager"):
            yield from _words(("on", "off"), word)
        elif name in ("help",):
            yield from _words(sorted({c.name for c in COMMANDS.values()}), word)
        elif name in ("unset", "param") and " " not in rest.strip():
            yield from _words(sorted(self.session.params), word)
        else:
            found = COMMANDS.get(name)
            if found is None:
                return
            cmd = found
            match = _TYPE_LIKE.match(word)
            if match and match.group(1) in cmd.options:
                key, prefix = match.groups()
                if key in ("near", "like"):
                    yield from self._names(prefix.lstrip("\"'"), -len(prefix))
                else:
                    last = prefix.rsplit(",", 1)[-1]
                    types = self.catalog.entity_types if name in ("search", "recall") else self.catalog.relation_types
                    yield from _counted(types, last)
            elif name in _NAME_ARGUMENT_COMMANDS and "=" not in word:
                yield from self._names(word.lstrip("\"'"), -len(word))
            elif "=" not in word and cmd.options and word:
                yield from _words([f"{o}=" for o in cmd.options], word)

    def _names(self, prefix: str, start: int) -> Iterator[Completion]:
        for entity in self.catalog.entity_names(prefix):
            yield Completion(_quoted(entity), start_position=start, display=entity, display_meta="entity")

    # -- Cypher ----------------------------------------------------------------------------

    def _cypher(self, statement: str, document: Document) -> Iterator[Completion]:
        state = code_state(statement)
        if state.quote is not None:
            yield from self._in_string(statement, state.string_start, state.quote, document)
            return
        word_match = re.search(r"[A-Za-z_][A-Za-z0-9_]*\Z", statement)
        word = word_match.group() if word_match else ""
        before = statement[: len(statement) - len(word)]
        if before.endswith("$"):
            yield from _words(sorted(self.session.params), word, meta="parameter")
        elif before.endswith("."):
            variable = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\.\Z", before)
            tables = self._tables_of(state.code, variable.group(1) if variable else "")
            yield from _words(self.catalog.properties(tables), word, meta="property")
        elif re.search(r"[(\[][A-Za-z_0-9]*\s*:\s*\Z", before):
            bracket = re.search(r"([(\[])[A-Za-z_0-9]*\s*:\s*\Z", before)
            node = bracket is not None and bracket.group(1) == "("
            kinds = [t for t, kind in self.catalog.tables.items() if (kind == "NODE") == node]
            yield from _words(kinds, word, meta="node table" if node else "relation table")
        elif word or not statement.strip() or before[-1:].isspace():
            yield from self._keywords(word)

    def _keywords(self, word: str) -> Iterator[Completion]:
        lower = word.islower()
        if not word:
            yield from (Completion(k, 0, display_meta="keyword") for k in KEYWORDS)
            return
        upper = word.upper()
        for keyword in KEYWORDS:
            if keyword.startswith(upper):
                yield Completion(keyword.lower() if lower else keyword, -len(word), display_meta="keyword")
        for function, kind in sorted(self.catalog.functions.items()):
            if function.startswith(word.lower()) and function.upper() not in KEYWORDS:
                yield Completion(f"{function}(", -len(word), display=function, display_meta=kind)
        for table in (*NODE_TABLES, *REL_TABLES):
            if table.lower().startswith(word.lower()):
                yield Completion(table, -len(word), display_meta="table")

    def _tables_of(self, code: str, variable: str) -> tuple[str, ...]:
        """Which tables a variable is bound to, judged from its pattern: (v...) or [v...]."""
        if variable:
            if re.search(r"\[\s*" + re.escape(variable) + r"\b", code):
                return REL_TABLES
            if re.search(r"\(\s*" + re.escape(variable) + r"\b", code):
                return NODE_TABLES
        return NODE_TABLES + REL_TABLES

    def _in_string(self, statement: str, start: int, quote: str, document: Document) -> Iterator[Completion]:
        prefix = statement[start + 1 :]
        code_before = code_state(statement[:start])
        match = _PROPERTY_BEFORE_STRING.search(code_before.code)
        if match is None:
            return
        variable, prop = match.groups()
        closing = "" if document.text_after_cursor.startswith(quote) else quote
        if prop == "name":
            for name in self.catalog.entity_names(prefix):
                yield Completion(name + closing, -len(prefix), display=name, display_meta="entity")
            return
        if prop != "type":
            return
        if variable:
            rel = self._tables_of(code_before.code, variable) == REL_TABLES
            node = self._tables_of(code_before.code, variable) == NODE_TABLES
        else:  # {type: '...'} inside a pattern: the innermost open bracket says which kind
            rel = "[" in code_before.brackets[-2:]
            node = not rel
        if node or not rel:
            yield from _counted(self.catalog.entity_types, prefix, closing, "entity type")
        if rel or not node:
            yield from _counted(self.catalog.relation_types, prefix, closing, "relation type")


def _last_word(line: str) -> str:
    """The word being typed at the end of a meta-command line; a quote opens only at a
    word's start or after ``key=`` (as :func:`~graphmem.console.commands.parse_args` reads it),
    so ``"Zoë Mü`` is one word and the apostrophe in ``who's`` is not a quote.

    >>> _last_word('"Zoë Müller" Bo'), _last_word('x near="Zoë Mü'), _last_word("who's th"), _last_word("a ")
    ('Bo', 'near="Zoë Mü', 'th', '')
    """
    start, quote = 0, None
    for i, c in enumerate(line):
        if quote is not None:
            if c == quote:
                quote = None
        elif c in "\"'" and (i == start or re.fullmatch(r"[A-Za-z_]+=", line[start:i])):
            quote = c
        elif c.isspace():
            start = i + 1
    return line[start:]


def _words(words: Iterable[str], prefix: str, *, meta: str | None = None) -> Iterator[Completion]:
    low = prefix.lower()
    for word in words:
        if word.lower().startswith(low):
            yield Completion(word, -len(prefix), display_meta=meta)


def _counted(counts: dict[str, int], prefix: str, suffix: str = "", meta: str = "type") -> Iterator[Completion]:
    low = prefix.lower()
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if name.lower().startswith(low):
            yield Completion(name + suffix, -len(prefix), display=name, display_meta=f"{meta}, {count:,}")
