"""Refuse user Cypher that reaches outside the store (DESIGN.md, "Security").

Both engines let a read-only transaction read and write files (measured on
Kùzu 0.11.3: ``COPY ... TO`` runs in ``BEGIN TRANSACTION READ ONLY``, and
``LOAD FROM name`` reads a Python variable from the caller's stack frames),
and neither Python binding says what kind of statement a prepared query is;
preparing ``LOAD FROM 'file'`` would itself open the file. So user text is
read here, before the engine sees it, by a lexer that follows the engine's
grammar (Kùzu's ``Cypher.g4``: quotes with backslash escapes, backtick names,
``//`` and ``/* */`` comments as whitespace, case-insensitive keywords) and
refuses what it cannot read. The checks then look at the clause a keyword
starts, not at substrings: ``e.load``, ``'COPY TO'`` and ```LOAD``` are names
and text, ``DETACH DELETE`` is Cypher.

Only user Cypher goes through here (``cypher()`` of both backends, the
console, ``graphmem query``, MCP ``cypher_query``); graphmem's own statements
in ``queries/`` are trusted and never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import FileAccessRefused, QueryError
from ..validate import check_flag

__all__ = ["check_user_cypher", "statements", "tokens", "Token"]

# What the engine's grammar counts as whitespace (SP), besides comments.
_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_ESCAPE = r"""\\(?:[\\'"bBfFnNrRtT]|[xX][0-9a-fA-F]{2}|[uU][0-9a-fA-F]{8}|[uU][0-9a-fA-F]{4})"""
_TOKEN = re.compile(
    # The commonest first; comments before punctuation ('/'), numbers before it ('.5').
    rf"""
    (?P<space>[{_SPACE}]+)
  | (?P<word>[^\W\d]\w*)
  | (?P<block>/\*.*?\*/)
  | (?P<line>//[^\n\r]*(?:\r?\n|\Z))
  | (?P<bad>/[*/])
  | (?P<number>\d+(?:\.\d+)?(?:[eE]-?\d+)?|\.\d+(?:[eE]-?\d+)?)
  | (?P<punct>[-!#%&()*+,./:;<=>?@\[\]^{{|}}~\u00ad\u2010-\u2015\u2212\ufe58\ufe63\uff0d\u27e8\u27e9\u3008\u3009\ufe64\ufe65\uff1c\uff1e])
  | (?P<string>'(?:[^'\\]|{_ESCAPE})*'|"(?:[^"\\]|{_ESCAPE})*")
  | (?P<name>(?:`[^`]*`)+)
  | (?P<param>\$(?:[^\W\d]\w*|(?:`[^`]*`)+|\d+))
    """,
    re.VERBOSE | re.DOTALL,
)


class Token(NamedTuple):
    """One lexical token. ``kind`` is ``word`` (a bare identifier or
    keyword; ``text`` upper-cased), ``name`` (a backtick identifier, ``text``
    its name), ``param`` (``text`` the parameter's name), ``string`` (``text``
    as written, quotes included), ``number`` or ``punct``; ``raw`` is the
    text as written."""

    kind: str
    text: str
    at: int
    raw: str


_DROPPED = frozenset({"space", "block", "line"})


def tokens(text: str) -> list[Token]:
    """The tokens of ``text``, comments and whitespace dropped.

    Raises
    ------
    QueryError
        Where the text cannot be read (an unterminated string or comment,
        a bad escape, a character the grammar has no token for): the engine
        would refuse it too, and a check must not guess around it.
    """
    out: list[Token] = []
    at = 0
    for match in _TOKEN.finditer(text):
        if match.start() != at:
            break  # finditer skipped what no token matches
        at = match.end()
        kind = match.lastgroup or ""
        if kind in _DROPPED:
            continue
        value = match.group()
        if kind == "word":
            if not value.isidentifier():
                # Python's \w is wider than the grammar's identifier characters
                # (it takes superscript digits, say): refuse rather than guess.
                raise QueryError(f"cannot read the statement at offset {match.start()} ({value!r}): not a Cypher name")
            out.append(Token("word", value.upper(), match.start(), value))
        elif kind == "name":
            out.append(Token("name", value[1:-1].replace("``", "`"), match.start(), value))
        elif kind == "param":
            raw = value[1:]
            name = raw[1:-1].replace("``", "`") if raw.startswith("`") else raw
            out.append(Token("param", name, match.start(), value))
        elif kind == "bad":
            raise QueryError(f"cannot read the statement at offset {match.start()}: a comment that does not end")
        else:
            out.append(Token(kind, value, match.start(), value))
    if at != len(text):
        raise QueryError(f"cannot read the statement at offset {at} ({text[at:at + 20]!r}): "
                         "an unterminated string, comment or name, or a character Cypher does not allow")
    return out


def statements(toks: list[Token]) -> list[list[Token]]:
    """The tokens split at top-level ``;`` (Cypher has no ``;`` inside an
    expression outside strings), empty statements dropped."""
    out: list[list[Token]] = [[]]
    for tok in toks:
        if tok.kind == "punct" and tok.text == ";":
            out.append([])
        else:
            out[-1].append(tok)
    return [stmt for stmt in out if stmt]


# Statement-level clauses that only ever reach files, the network or code.
_STATEMENT_CLAUSES = {
    "EXPORT": "EXPORT DATABASE",
    "IMPORT": "IMPORT DATABASE",
    "INSTALL": "INSTALL (an extension)",
    "FORCE": "FORCE INSTALL (an extension)",
    "UNINSTALL": "UNINSTALL (an extension)",
    "UPDATE": "UPDATE (an extension)",
    "ATTACH": "ATTACH (a database)",
    "DETACH": "DETACH (a database)",
    "USE": "USE (an attached database)",
}
_TRANSACTION = {"BEGIN", "COMMIT", "ROLLBACK", "CHECKPOINT"}
# Table functions that only read the store's catalog, its own files' sizes, or
# run graph algorithms in memory. Not here: read_csv_*, read_parquet,
# read_npy, json_scan, read_pandas (files and Python objects), and
# create_fts_index (its stopwords option reads a file or a URL).
_KUZU_FUNCTIONS = frozenset("""
show_tables table_info show_functions show_connection show_indexes show_sequences show_warnings
clear_warnings show_macros show_graphs show_projected_graphs projected_graph_info show_loaded_extensions
show_official_extensions show_attached_databases current_setting db_version catalog_version storage_version
stats_info storage_info bm_info fsm_info file_info disk_info disk_size_info
project_graph project_graph_cypher drop_projected_graph page_rank pr wcc weakly_connected_components scc scc_ko
strongly_connected_components strongly_connected_components_kosaraju kcore k_core_decomposition louvain
query_vector_index create_vector_index drop_vector_index query_fts_index drop_fts_index
""".split())
# Functions whose string arguments are Cypher queries the engine runs.
_NESTED_CYPHER = frozenset({"project_graph_cypher"})
# Settings that change neither where the engine reads or writes files
# (home_directory, file_search_path, spill_to_disk are left out) nor durability.
_KUZU_SETTINGS = frozenset("""
threads timeout warning_limit var_length_extend_max_depth enable_semi_mask disable_map_key_check
enable_zone_map progress_bar recursive_pattern_semantic recursive_pattern_factor
""".split())
_FALKOR_PREFIXES = ("db.", "algo.")
_FALKOR_PROCEDURES = frozenset({"dbms.procedures"})
_QUERY_START = {"MATCH", "OPTIONAL", "UNWIND", "WITH", "RETURN", "CALL", "LOAD"}

_TABLE_TYPES = {("pyarrow", "Table"), ("pyarrow", "RecordBatch"), ("pandas", "DataFrame"), ("polars", "DataFrame")}


def _in_memory_table(value: Any) -> bool:
    kind = type(value)
    return (kind.__module__.split(".")[0], kind.__name__) in _TABLE_TYPES


def check_user_cypher(
    text: str,
    params: Mapping[str, Any] | None = None,
    *,
    allow_file_access: bool = False,
    dialect: str = "kuzu",
) -> None:
    """Refuse user Cypher that would touch the file system, the network or
    load code, before anything runs.

    Parameters
    ----------
    text
        The user's Cypher.
    params
        Its bound parameters: ``LOAD FROM $p`` / ``COPY T FROM $p`` are
        allowed when ``p`` is an in-memory table (pyarrow ``Table`` or
        ``RecordBatch``, pandas or polars ``DataFrame``).
    allow_file_access
        The caller's explicit opt-in: the file-access checks are skipped
        (the text must still be readable and one statement).
    dialect
        ``"kuzu"`` (Kùzu and LadybugDB) or ``"falkordb"`` (the cluster
        backend: its ``CALL`` procedures are dotted names).

    Raises
    ------
    FileAccessRefused
        The statement reads or writes files, reaches the network, loads an
        extension or changes where the engine looks for files; ``clause``
        names the clause.
    QueryError
        The text cannot be read, holds several statements (the store runs
        one statement per transaction), or controls transactions itself.
    """
    check_flag(allow_file_access, "allow_file_access")
    stmts = statements(tokens(text))
    if not allow_file_access:
        for stmt in stmts:
            _check_statement(stmt, params or {}, dialect)
    if len(stmts) > 1:
        raise QueryError(f"one statement per call: this text holds {len(stmts)} (separated by ';')")
    if stmts and _first_word(stmts[0]) in _TRANSACTION:
        raise QueryError("transaction control (BEGIN, COMMIT, ROLLBACK, CHECKPOINT) is graphmem's: "
                         "each cypher() call runs in a transaction of its own")


def _first_word(stmt: list[Token]) -> str:
    i = 0
    while i < len(stmt) and stmt[i].kind == "word" and stmt[i].text in ("EXPLAIN", "PROFILE", "LOGICAL"):
        i += 1
    return stmt[i].text if i < len(stmt) and stmt[i].kind == "word" else ""


def _refuse(clause: str, why: str) -> FileAccessRefused:
    return FileAccessRefused(
        f"refused before it ran: {clause} {why}; Cypher here may read and write only the store "
        "(no files, network or extensions)",
        clause=clause,
    )


def _is_word(stmt: list[Token], i: int, *words: str) -> bool:
    return i < len(stmt) and stmt[i].kind == "word" and stmt[i].text in words


def _is_punct(stmt: list[Token], i: int, char: str) -> bool:
    return i < len(stmt) and stmt[i].kind == "punct" and stmt[i].text == char


def _skip_parens(stmt: list[Token], i: int) -> int:
    """The index after the group opened at ``stmt[i]`` (a ``(``)."""
    depth = 0
    while i < len(stmt):
        if _is_punct(stmt, i, "("):
            depth += 1
        elif _is_punct(stmt, i, ")"):
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _check_source(stmt: list[Token], i: int, clause: str, params: Mapping[str, Any], *, subquery: bool) -> None:
    """``stmt[i]`` is what follows FROM: it must be a ``$parameter`` bound to
    an in-memory table (or, for COPY, a parenthesised query)."""
    if i < len(stmt) and stmt[i].kind == "param":
        name = stmt[i].text
        if name not in params:
            raise _refuse(f"{clause} ${name}", "has no value bound to the parameter (it must be an in-memory table)")
        if not _in_memory_table(params[name]):
            raise _refuse(f"{clause} ${name}", f"is bound to a {type(params[name]).__name__}, not an in-memory table "
                          "(pyarrow Table or RecordBatch, pandas or polars DataFrame)")  # fmt: skip
        return
    if subquery and _is_punct(stmt, i, "(") and i + 1 < len(stmt) and stmt[i + 1].kind == "word" \
            and stmt[i + 1].text in _QUERY_START:  # fmt: skip
        return  # COPY T FROM (MATCH ...): its clauses are checked like the rest of the statement
    shown = stmt[i].raw if i < len(stmt) else "nothing"
    raise _refuse(f"{clause} {shown}", "reads a file, a URL or a Python variable")


def _check_statement(stmt: list[Token], params: Mapping[str, Any], dialect: str) -> None:
    first = 0
    while _is_word(stmt, first, "EXPLAIN", "PROFILE", "LOGICAL"):
        first += 1
    head = stmt[first] if first < len(stmt) else None
    if head is not None and head.kind == "word":
        if head.text in _STATEMENT_CLAUSES and not (head.text == "DETACH" and _is_word(stmt, first + 1, "DELETE")):
            raise _refuse(_STATEMENT_CLAUSES[head.text], "reaches files, the network or code outside the store")
        if head.text == "LOAD" and not _is_word(stmt, first + 1, "FROM", "WITH"):
            following = stmt[first + 1].text if first + 1 < len(stmt) else ""
            clause = "LOAD CSV" if following == "CSV" else "LOAD EXTENSION"
            raise _refuse(clause, "reads files or the network" if clause == "LOAD CSV" else "loads code")
        if head.text == "COPY":
            _check_copy(stmt, first, params)
    for i, tok in enumerate(stmt):
        if tok.kind != "word" or (i > 0 and stmt[i - 1].kind == "punct" and stmt[i - 1].text in ".:"):
            continue  # a property key or a label is a name, whatever it spells
        if tok.text == "LOAD":
            _check_load(stmt, i, params)
        elif tok.text == "CALL":
            _check_call(stmt, i, dialect)


def _check_copy(stmt: list[Token], i: int, params: Mapping[str, Any]) -> None:
    # COPY T [(columns)] FROM source | COPY (query) TO 'file'
    j = i + 1
    if _is_punct(stmt, j, "(") or j >= len(stmt) or stmt[j].kind not in ("word", "name"):
        raise _refuse("COPY ... TO", "writes a file")
    j += 1
    if _is_punct(stmt, j, "("):
        j = _skip_parens(stmt, j)
    if not _is_word(stmt, j, "FROM"):
        raise _refuse("COPY ... TO", "writes a file")
    _check_source(stmt, j + 1, "COPY ... FROM", params, subquery=True)


def _check_load(stmt: list[Token], i: int, params: Mapping[str, Any]) -> None:
    if _is_word(stmt, i + 1, "CSV"):
        raise _refuse("LOAD CSV", "reads files or the network")
    if _is_word(stmt, i + 1, "FROM"):
        _check_source(stmt, i + 2, "LOAD FROM", params, subquery=False)
    elif _is_word(stmt, i + 1, "WITH") and _is_word(stmt, i + 2, "HEADERS"):
        j = i + 3
        if _is_punct(stmt, j, "("):
            j = _skip_parens(stmt, j)
        if not _is_word(stmt, j, "FROM"):
            raise _refuse("LOAD WITH HEADERS", "reads a file, a URL or a Python variable")
        _check_source(stmt, j + 1, "LOAD WITH HEADERS ... FROM", params, subquery=False)
    # else: a variable named `load` (WITH 1 AS load RETURN load)


def _check_call(stmt: list[Token], i: int, dialect: str) -> None:
    j = i + 1
    if j >= len(stmt) or stmt[j].kind not in ("word", "name"):
        return  # CALL { subquery } (FalkorDB), or a variable named `call`
    parts = [stmt[j].text.lower()]
    j += 1
    while _is_punct(stmt, j, ".") and j + 1 < len(stmt) and stmt[j + 1].kind in ("word", "name"):
        parts.append(stmt[j + 1].text.lower())
        j += 2
    name = ".".join(parts)
    if _is_punct(stmt, j, "="):
        if dialect == "kuzu" and name in _KUZU_SETTINGS:
            return
        raise _refuse(f"CALL {name}=...", "changes a setting that is not known to be harmless (file locations, "
                      "spilling to disk, durability)")  # fmt: skip
    if not _is_punct(stmt, j, "("):
        return  # not a call: `call` is a variable here
    if dialect == "falkordb":
        if name in _FALKOR_PROCEDURES or name.startswith(_FALKOR_PREFIXES):
            return
    elif name in _KUZU_FUNCTIONS:
        if name in _NESTED_CYPHER:
            _check_nested(stmt, j, name)
        return
    raise _refuse(f"CALL {name}()", "is not a catalog or algorithm function known to stay inside the store")


def _check_nested(stmt: list[Token], j: int, name: str) -> None:
    """The string arguments of a function that runs Cypher are Cypher too."""
    end = _skip_parens(stmt, j)
    for tok in stmt[j:end]:
        if tok.kind != "string":
            continue
        if "\\" in tok.text:
            # The engines unescape differently (Kùzu reads '\u0041' as 'u0041'):
            # a nested query with escapes cannot be read the way it will run.
            raise _refuse(f"CALL {name}()", "has a query argument with backslash escapes")
        inner = tok.text[1:-1]
        for stmt_inner in statements(tokens(inner)):
            _check_statement(stmt_inner, {}, "kuzu")
