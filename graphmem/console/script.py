"""Splitting console input into Cypher statements and meta-commands.

A Cypher statement ends at a ``;`` outside strings and comments; a
meta-command is a line whose first character (after blank space, between
statements) is ``:`` and ends at the end of that line. The same scanner
tells the prompt whether the input is complete (Enter runs it) or not
(Enter starts a new line), finds the ``$parameters`` a statement uses (the
engine refuses parameters a statement does not use, so the console passes
only those), and tells the completer whether the cursor is inside a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Item", "Split", "split_script", "parameter_names", "CodeState", "code_state"]

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to run: a Cypher statement (without its ``;``) or a meta-command line."""

    kind: Literal["cypher", "meta"]
    text: str
    line: int  # 1-based line of the input where it starts


@dataclass(frozen=True, slots=True)
class Split:
    items: tuple[Item, ...]
    rest: str  # an unfinished statement (no ``;`` yet), or "" when there is none
    rest_line: int
    open_comment: bool  # the input ends inside a /* comment */

    @property
    def complete(self) -> bool:
        """True when Enter should run the input: nothing is left unfinished."""
        return not self.rest and not self.open_comment


def _string_end(text: str, i: int) -> int:
    """The index just past the string literal starting at ``text[i]``, or -1 if it is unterminated."""
    quote = text[i]
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and quote != "`":
            j += 2
            continue
        if c == quote:
            return j + 1
        j += 1
    return -1


def _comment_end(text: str, i: int) -> int:
    """For ``//`` or ``/*`` at ``i``: the index just past the comment (-1 if a block comment is unterminated)."""
    if text.startswith("//", i):
        j = text.find("\n", i)
        return len(text) if j < 0 else j
    j = text.find("*/", i + 2)
    return -1 if j < 0 else j + 2


def split_script(text: str) -> Split:
    """Split ``text`` into statements and meta-commands, in order.

    Examples
    --------
    >>> s = split_script("MATCH (e) RETURN 'a;b';\\n:search data -> hits\\nRETURN 1")
    >>> [(i.kind, i.text, i.line) for i in s.items], s.rest, s.complete
    ([('cypher', "MATCH (e) RETURN 'a;b'", 1), ('meta', ':search data -> hits', 2)], 'RETURN 1', False)
    """
    items: list[Item] = []
    n = len(text)
    i = 0
    start = -1  # where the pending statement starts; -1 while there is none
    open_comment = False
    while i < n:
        c = text[i]
        if start < 0:
            if c.isspace() or c == ";":
                i += 1
                continue
            if c == ":":
                end = text.find("\n", i)
                end = n if end < 0 else end
                items.append(Item("meta", text[i:end].strip(), _line(text, i)))
                i = end
                continue
            if text.startswith(("//", "/*"), i):
                end = _comment_end(text, i)
                if end < 0:
                    open_comment = True
                    break
                i = end
                continue
            start = i
        if c in "'\"`":
            end = _string_end(text, i)
            if end < 0:
                i = n  # an unterminated string: the statement is unfinished
                break
            i = end
        elif text.startswith(("//", "/*"), i):
            end = _comment_end(text, i)
            if end < 0:
                open_comment = True
                break
            i = end
        elif c == ";":
            items.append(Item("cypher", text[start:i].strip(), _line(text, start)))
            start = -1
            i += 1
        else:
            i += 1
    rest = text[start:].strip() if start >= 0 else ""
    return Split(tuple(items), rest, _line(text, start) if start >= 0 else 0, open_comment)


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _code_only(text: str) -> str:
    """``text`` with string literals and comments blanked out (same length)."""
    out = list(text)
    i = 0
    while i < len(text):
        c = text[i]
        if c in "'\"`":
            end = _string_end(text, i)
            end = len(text) if end < 0 else end
        elif text.startswith(("//", "/*"), i):
            end = _comment_end(text, i)
            end = len(text) if end < 0 else end
        else:
            i += 1
            continue
        for j in range(i, end):
            if out[j] != "\n":
                out[j] = " "
        i = end
    return "".join(out)


def parameter_names(text: str) -> list[str]:
    """The ``$parameters`` a Cypher statement uses, in order of first use.

    >>> parameter_names("MATCH (e {name: $who}) WHERE e.note <> '$x' // $y\\nRETURN $n, $who")
    ['who', 'n']
    """
    return list(dict.fromkeys(_PARAM.findall(_code_only(text))))


@dataclass(frozen=True, slots=True)
class CodeState:
    """Where the end of a piece of Cypher stands, for the completer."""

    code: str  # the text with strings and comments blanked
    quote: str | None  # the quote character of an unterminated string at the end, else None
    string_start: int  # index of that opening quote (-1 when not in a string)
    brackets: str  # the brackets still open at the end, innermost last, e.g. "(["


def code_state(text: str) -> CodeState:
    """Scan ``text`` (a statement up to the cursor).

    >>> s = code_state("MATCH (a:Entity {type: 'Pe")
    >>> s.quote, s.string_start, s.brackets
    ("'", 23, '({')
    """
    quote: str | None = None
    string_start = -1
    brackets: list[str] = []
    closing = {")": "(", "]": "[", "}": "{"}
    i = 0
    while i < len(text):
        c = text[i]
        if c in "'\"`":
            end = _string_end(text, i)
            if end < 0:
                quote, string_start = c, i
                break
            i = end
            continue
        if text.startswith(("//", "/*"), i):
            end = _comment_end(text, i)
            if end < 0:
                break
            i = end
            continue
        if c in "([{":
            brackets.append(c)
        elif c in closing and brackets and brackets[-1] == closing[c]:
            brackets.pop()
        i += 1
    return CodeState(_code_only(text), quote, string_start, "".join(brackets))
