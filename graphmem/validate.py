"""Argument checks shared by every public call.

Each check returns the normalised value or raises :class:`InvalidInput` with a
message that names the argument and says what was wrong. Nothing here touches
the store, so a rejected call changes nothing.

Over 500 lines: every argument check of the public API (~30, with examples) and their
column forms for the bulk path, in one place so that both agree.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sized
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import (
    MAX_CALL_BYTES,
    MAX_NAME_LENGTH,
    MAX_OBSERVATIONS,
    MAX_OBSERVATIONS_PER_CALL,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTY_DEPTH,
    MAX_RECORD_BYTES,
    MAX_TEXT_LENGTH,
    MAX_TYPE_LENGTH,
)
from .errors import InvalidInput

__all__ = [
    "stored_type",
    "DIRECTIONS",
    "RANKS",
    "check_count",
    "check_decay",
    "check_finite_number",
    "check_fraction",
    "check_rank",
    "check_name",
    "check_namespace",
    "check_type",
    "check_types_filter",
    "check_direction",
    "check_text",
    "check_observations",
    "check_properties",
    "check_param_strings",
    "check_record_bytes",
    "check_call_totals",
    "utf8_size",
    "check_vector",
    "stored_vector",
    "check_positive_int",
    "check_int_range",
    "check_number_range",
]

DIRECTIONS = ("out", "in", "both")
"""The directions a traversal may follow from an entity (``direction=``)."""


# Control characters (Unicode category Cc: C0, DEL, C1) would break
# line-based formats and our key separator; lone surrogates (Cs) cannot be
# encoded as UTF-8 at all. One regex instead of a per-character category
# lookup: names are checked on every call, including bulk imports.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_forbidden_char(value: str) -> bool:
    return _FORBIDDEN.search(value) is not None


def check_namespace(name: Any) -> str:
    """Validate a namespace name (the rules of entity names).

    Examples
    --------
    >>> check_namespace("project-a")
    'project-a'
    """
    return check_name(name, "namespace")


def check_name(name: Any, what: str = "name") -> str:
    """Validate an entity name.

    Examples
    --------
    >>> check_name("Ada Lovelace")
    'Ada Lovelace'
    >>> check_name("a\\x00b")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: name must not contain control characters: 'a\\x00b'
    """
    if not isinstance(name, str):
        raise InvalidInput(f"{what} must be a str, not {type(name).__name__}")
    if not name.strip():
        raise InvalidInput(f"{what} must not be empty or blank")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{what} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    if _has_forbidden_char(name):
        raise InvalidInput(f"{what} must not contain control characters: {name!r}")
    return name


def check_type(value: Any, what: str = "type") -> str:
    """Validate an entity or relation type: an identifier such as ``WORKS_AT``.

    Any Python identifier (:meth:`str.isidentifier`, Unicode letters
    included) is one: types are stored and matched as values, never spliced
    into Cypher as labels, so they need no ASCII.

    Examples
    --------
    >>> check_type("WORKS_AT"), check_type("位置する"), check_type("GEHÖRT_ZU")
    ('WORKS_AT', '位置する', 'GEHÖRT_ZU')
    >>> check_type("works at")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: type must be an identifier (letters, digits, _; not starting with a digit): 'works at'
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a str, not {type(value).__name__}")
    if len(value) > MAX_TYPE_LENGTH:
        raise InvalidInput(f"{what} is {len(value)} characters long; the limit is {MAX_TYPE_LENGTH}")
    if not value.isidentifier():
        raise InvalidInput(f"{what} must be an identifier (letters, digits, _; not starting with a digit): {value!r}")
    return value


def check_types_filter(types: Any, what: str = "types") -> tuple[str, ...] | None:
    """``None`` (no filter), one type, or an iterable of types."""
    if types is None:
        return None
    if isinstance(types, str):
        return (check_type(types, what),)
    if not isinstance(types, Iterable):
        raise InvalidInput(f"{what} must be None, a str or a list of str, not {type(types).__name__}")
    return tuple(check_type(t, what) for t in types)


def check_direction(direction: Any) -> str:
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    return str(direction)


def check_text(text: Any, what: str = "text") -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a str or None, not {type(text).__name__}")
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidInput(f"{what} is {len(text)} characters long; the limit is {MAX_TEXT_LENGTH}")
    if _NUL_OR_SURROGATE.search(text) is not None:
        raise InvalidInput(f"{what} must not contain NUL or lone surrogate characters")
    return text


def check_observations(observations: Any) -> tuple[str, ...] | None:
    """A list of texts, at most :data:`~graphmem.config.MAX_OBSERVATIONS` of them.

    The count is checked while iterating, so a generator of millions stops at
    the limit instead of being drawn out.
    """
    if observations is None:
        return None
    if isinstance(observations, (str, bytes)) or not isinstance(observations, Iterable):
        raise InvalidInput(f"observations must be a list of str, not {type(observations).__name__}")
    if isinstance(observations, Sized) and len(observations) > MAX_OBSERVATIONS:
        raise InvalidInput(f"an entity holds at most {MAX_OBSERVATIONS:,} observations; "
                           f"{len(observations):,} were given")  # fmt: skip
    checked: list[str] = []
    for observation in observations:
        if len(checked) == MAX_OBSERVATIONS:
            raise InvalidInput(f"an entity holds at most {MAX_OBSERVATIONS:,} observations; more were given")
        checked.append(check_text(observation, "observation") or "")
    return tuple(checked)


def _check_json_tree(value: Any) -> None:
    """Keys are str; no key or string holds a lone surrogate (the engine's
    driver cannot encode one, and would fail mid-transaction); nesting is at
    most :data:`~graphmem.config.MAX_PROPERTY_DEPTH` deep. Iterative, so a
    structure nested 10,000 deep is refused instead of overflowing the stack."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_PROPERTY_DEPTH:
            raise InvalidInput(f"properties are nested more than {MAX_PROPERTY_DEPTH} levels deep")
        if isinstance(node, Mapping):
            for key, item in node.items():
                if not isinstance(key, str):
                    raise InvalidInput(f"property names must be str, not {type(key).__name__}: {key!r}")
                if _SURROGATE.search(key) is not None:
                    raise InvalidInput(f"property name {key!r} holds a lone surrogate character (not encodable as UTF-8)")
                if isinstance(item, (Mapping, list, tuple)):
                    stack.append((item, depth + 1))
                elif isinstance(item, str) and _SURROGATE.search(item) is not None:
                    raise InvalidInput(f"property {key!r} holds a lone surrogate character (not encodable as UTF-8)")
        else:
            for item in node:
                if isinstance(item, (Mapping, list, tuple)):
                    stack.append((item, depth + 1))
                elif isinstance(item, str) and _SURROGATE.search(item) is not None:
                    raise InvalidInput("a property holds a lone surrogate character (not encodable as UTF-8)")


def check_param_strings(params: Mapping[str, Any]) -> None:
    """No str among Cypher parameters (their names, values, and the items and
    keys of lists and dicts in them) holds a lone surrogate: the engines'
    drivers cannot encode one and fail with a C++ cast message instead.
    Iterative, like :func:`_check_json_tree`; arrays and tables are not looked into.

    Examples
    --------
    >>> check_param_strings({"who": ["Zoë", {"k": "\\udc00"}]})
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: parameter $who holds a lone surrogate character (not encodable as UTF-8)
    """
    stack = [(name, part) for name, value in params.items() for part in (name, value)]
    while stack:
        name, node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node) is not None:
                raise InvalidInput(f"parameter ${name!s} holds a lone surrogate character (not encodable as UTF-8)")
        elif isinstance(node, Mapping):
            stack.extend((name, part) for pair in node.items() for part in pair)
        elif isinstance(node, (list, tuple)):
            stack.extend((name, item) for item in node)


def check_properties(properties: Any) -> dict[str, Any] | None:
    """A mapping with str keys whose values JSON can carry (no NaN or infinity,
    no lone surrogates), nested at most ``MAX_PROPERTY_DEPTH`` deep and at most
    ``MAX_PROPERTIES_BYTES`` as JSON.

    Examples
    --------
    >>> check_properties({"since": 2021, "tags": ["a", {"b": None}]})
    {'since': 2021, 'tags': ['a', {'b': None}]}
    >>> nested = {}
    >>> for _ in range(10_000):
    ...     nested = {"x": nested}
    >>> check_properties(nested)
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: properties are nested more than 32 levels deep
    """
    if properties is None:
        return None
    if not isinstance(properties, Mapping):
        raise InvalidInput(f"properties must be a dict, not {type(properties).__name__}")
    _check_json_tree(properties)
    try:
        text = json.dumps(dict(properties), allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"properties must be JSON-serialisable: {exc}") from None
    size = utf8_size(text)
    if size > MAX_PROPERTIES_BYTES:
        raise InvalidInput(f"properties are {size:,} bytes as JSON; the limit is {MAX_PROPERTIES_BYTES:,}")
    # The round trip also detaches the caller's objects.
    return dict(json.loads(text))


def utf8_size(text: str) -> int:
    """Bytes of ``text`` as UTF-8 (encoded only when it is not plain ASCII)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def check_record_bytes(what: str, *parts: str | Iterable[str] | None, extra: int = 0) -> int:
    """The UTF-8 size of a record's texts (``parts``: strings, lists of strings
    or ``None``) plus ``extra``; :class:`InvalidInput` above
    :data:`~graphmem.config.MAX_RECORD_BYTES`.

    Examples
    --------
    >>> check_record_bytes("entity 'a'", "a", "Entity", "é", ["x", "y"], extra=2)
    13
    """
    size = extra
    for part in parts:
        if isinstance(part, str):
            size += utf8_size(part)
        elif part is not None:
            size += sum(utf8_size(t) for t in part)
    if size > MAX_RECORD_BYTES:
        raise InvalidInput(f"{what} is {size:,} bytes (UTF-8: name, type, text, observations, properties); "
                           f"the limit is {MAX_RECORD_BYTES:,}")  # fmt: skip
    return size


def check_call_totals(observations: int, size: int, position: int) -> None:
    """Per-call limits, checked as a call's records are parsed (so a huge
    iterable stops at the limit): ``observations`` and ``size`` (UTF-8 bytes)
    summed over its records up to and including record ``position``."""
    if observations > MAX_OBSERVATIONS_PER_CALL:
        raise InvalidInput(f"one call writes at most {MAX_OBSERVATIONS_PER_CALL:,} observations; record "
                           f"#{position} brings it to {observations:,}: split the batch")  # fmt: skip
    if size > MAX_CALL_BYTES:
        raise InvalidInput(f"one call writes at most {MAX_CALL_BYTES:,} bytes of records; record #{position} "
                           f"brings it to {size:,}: split the batch")  # fmt: skip


def check_vector(vector: Any, dim: int | None, what: str = "embedding") -> np.ndarray:
    """A finite, non-zero 1-D vector of length ``dim`` (any length if ``None``), L2-normalised.

    For a query; a vector to be stored goes through :func:`stored_vector`.
    """
    arr = _vector_array(vector, dim, what)
    # What linalg.norm computes for a 1-D float32 array, without its ~3 us of
    # argument handling on every search: the float32 sum of squares.
    return _normalised(arr, float(arr.dot(arr)), what)


def stored_vector(vector: Any, dim: int | None, what: str = "embedding") -> np.ndarray:
    """:func:`check_vector` for a vector to be stored: its sum of squares is
    taken as the columnar path takes a batch's (``np.einsum`` row by row), so
    an entity's stored vector has the same bits whichever path its batch took.
    BLAS's ``dot`` sums in another order: its last bit differed for 40% of
    random vectors, and so, now and then, the rounded norm and the stored
    scale (~2.7 us more per vector than ``dot``)."""
    # Contiguous first: einsum sums a strided operand (a matrix's column, a
    # view with a step) in another order, and the bits then depended on the
    # memory the caller's vector sat in (about half of such vectors differed).
    arr = np.ascontiguousarray(_vector_array(vector, dim, what))
    return _normalised(arr, float(np.einsum("i,i->", arr, arr)), what)


def _vector_array(vector: Any, dim: int | None, what: str) -> np.ndarray:
    try:
        arr = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be a sequence of numbers") from None
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidInput(f"{what} must be a non-empty 1-D vector, got shape {arr.shape}")
    if dim is not None and arr.size != dim:
        raise InvalidInput(f"{what} has dimension {arr.size}; this store's vectors have dimension {dim}")
    return arr


def _normalised(arr: np.ndarray, squared: float, what: str) -> np.ndarray:
    """``arr`` divided by its norm, from its float32 sum of squares ``squared``:
    the square root rounded to float32 (math.sqrt in double, then rounded, is
    the float32 square root: double rounding is exact for a square root)."""
    # A NaN or an infinity makes the sum NaN or infinite: a finite sum clears
    # the element-wise check, which is only run when it can fail (~1.5 us).
    if not math.isfinite(squared) and not np.isfinite(arr).all():
        raise InvalidInput(f"{what} contains NaN or infinity")
    norm = math.sqrt(squared)
    if norm == 0.0 or not math.isfinite(norm):
        raise InvalidInput(f"{what} is the zero vector; cosine similarity is undefined for it")
    # A Python float divides a float32 array as float32 (NumPy 2's weak
    # scalars, NEP 50; NumPy 1's value-based casting picks the same float32
    # loop): rounded to float32 first, as np.float32(norm) was, so
    # the same bits, without building the scalar (~0.2 us). norm is finite
    # and at most sqrt(float32 max) here, so the rounding cannot overflow.
    return arr / norm


@overload
def check_positive_int(value: Any, what: str) -> int: ...
@overload
def check_positive_int(value: Any, what: str, *, allow_none: bool) -> int | None: ...
def check_positive_int(value: Any, what: str, *, allow_none: bool = False) -> int | None:
    """``value`` if it is an int >= 1 (a limit, a batch size); ``None`` passes with ``allow_none``.

    Examples
    --------
    >>> check_positive_int(3, "limit")
    3
    >>> check_positive_int(-(10**5000), "limit")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: limit must be a positive int, not an int of 16610 bits
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidInput(f"{what} must be a positive int, not {_shown(value)}")
    return int(value)


@overload
def check_count(value: Any, what: str) -> int: ...
@overload
def check_count(value: Any, what: str, *, allow_none: bool) -> int | None: ...
def check_count(value: Any, what: str, *, allow_none: bool = False) -> int | None:
    """``value`` if it is an int >= 0 (a hop count, a cap that may be zero); ``None`` passes with ``allow_none``.

    Examples
    --------
    >>> check_count(0, "hops"), check_count(None, "max_relations", allow_none=True)
    (0, None)
    >>> check_count(True, "hops")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: hops must be an int >= 0, not True
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        accepted = "an int >= 0 or None" if allow_none else "an int >= 0"
        raise InvalidInput(f"{what} must be {accepted}, not {_shown(value)}")
    return int(value)


def check_int_range(value: Any, what: str, low: int, high: int, *, expected: str | None = None) -> int:
    """``value`` if it is an int (not a bool) from ``low`` to ``high``, both included.

    ``expected`` words what is wanted for the message (default: "an int from
    ``low`` to ``high``"), for a range better named than spelled out.

    Examples
    --------
    >>> check_int_range(0o750, "mode", 0, 0o777)
    488
    >>> check_int_range(0o1700, "mode", 0, 0o777, expected="a permission mode such as 0o700")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: mode must be a permission mode such as 0o700, not 960
    >>> check_int_range(7.0, "hops", 0, 10)
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: hops must be an int from 0 to 10, not 7.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InvalidInput(f"{what} must be {expected or f'an int from {low} to {high}'}, not {_shown(value)}")
    return int(value)


RANKS = ("similarity", "hybrid")
"""How ``search(near=...)`` orders its hits: by similarity alone, or by ``similarity * decay ** hops``."""


def check_rank(rank: Any) -> str:
    if rank not in RANKS:
        raise InvalidInput(f"rank must be one of {', '.join(RANKS)}, not {rank!r}")
    return str(rank)


def check_flag(value: Any, what: str) -> bool:
    """``value`` if it is ``True`` or ``False``: a switch given as a string or a
    number (``"false"`` is truthy) is refused rather than read as its truth.

    Examples
    --------
    >>> check_flag(False, "hard")
    False
    >>> check_flag("false", "hard")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: hard must be True or False, not 'false'
    """
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be True or False, not {value!r}")
    return value


def check_finite_number(value: Any, what: str) -> float:
    """``value`` as a float if it is a finite number: an int or a float, not a bool
    (an importance).

    Examples
    --------
    >>> check_finite_number(2, "importance")
    2.0
    >>> check_finite_number(float("nan"), "importance")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: importance must be a finite number, not nan
    >>> check_finite_number(10**400, "importance")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: importance must be a finite number, not an int of 1329 bits
    """
    return _number(value, what, -math.inf, math.inf, "a finite number")


@overload
def check_number_range(value: Any, what: str, low: float, high: float = ..., *, expected: str | None = ...) -> float: ...
@overload
def check_number_range(value: Any, what: str, low: float, high: float = ..., *, expected: str | None = ...,
                       allow_none: bool) -> float | None: ...  # fmt: skip
def check_number_range(value: Any, what: str, low: float, high: float = math.inf, *, expected: str | None = None,
                       allow_none: bool = False) -> float | None:  # fmt: skip
    """``value`` as a float if it is a finite number (an int or a float, not a
    bool) from ``low`` to ``high``, both included (a TTL, a number of seconds);
    ``None`` passes with ``allow_none``.

    ``expected`` words what is wanted for the message (default: "a number
    from ``low`` to ``high``", or ">= ``low``" without a ``high``).

    Examples
    --------
    >>> check_number_range(2, "ttl", 0), check_number_range(None, "ttl", 0, allow_none=True)
    (2.0, None)
    >>> check_number_range(float("inf"), "ttl", 0)
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: ttl must be a number >= 0, not inf
    >>> check_number_range(-1, "hold", 0, 3600, expected="a number of seconds from 0 to 3600")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: hold must be a number of seconds from 0 to 3600, not -1
    """
    if value is None and allow_none:
        return None
    if expected is None:
        expected = f"a number >= {low}" if high == math.inf else f"a number from {low} to {high}"
        expected += " or None" if allow_none else ""
    return _number(value, what, low, high, expected)


def _number(value: Any, what: str, low: float, high: float, expected: str) -> float:
    """``value`` as a float if it is a finite int or float (not a bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{what} must be {expected}, not {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # only an int beyond any float
        raise InvalidInput(f"{what} must be {expected}, not {_shown(value)}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(f"{what} must be {expected}, not {_shown(value)}")
    return number


def _shown(value: Any) -> str:
    """``value``'s repr for a message; an int beyond any float by its size instead
    (its digits would fill the message, and past 4,300 of them ``repr`` raises)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value).bit_length() > 1024:
        return f"an int of {int(value).bit_length()} bits"
    return repr(value)


def check_fraction(value: Any, what: str) -> float:
    """``value`` as a float if it is a number in (0, 1] (a decay, a similarity threshold).

    Examples
    --------
    >>> check_fraction(1, "threshold")
    1.0
    >>> check_fraction(0.0, "decay")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: decay must be a number in (0, 1], not 0.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise InvalidInput(f"{what} must be a number in (0, 1], not {value!r}")
    return float(value)


def check_decay(decay: Any) -> float:
    return check_fraction(decay, "decay")


# -- columns ----------------------------------------------------------------------
#
# The bulk path (graphmem.memory.bulk) checks a batch column by column. Each check
# below answers only "does every value certainly pass the per-value check
# above?": ``True`` means yes, exactly as the per-value check would decide;
# ``False`` means "not certainly", and the caller then runs the per-value
# checks, which raise the exact message. So a column check may be stricter
# than the per-value one (a false alarm costs speed), never looser.

_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""The characters :meth:`str.isspace` accepts (fixed by the Unicode database
of the interpreter; a test checks this list against it)."""

_BLANK_COLUMN = "^[" + "".join(f"\\x{{{ord(c):x}}}" if c != "-" else "-" for c in _SPACES) + "]*$"
_FORBIDDEN_COLUMN = r"[\x{0}-\x{1f}\x{7f}-\x{9f}]"


def string_column(values: list[Any], *, nullable: bool) -> pa.Array | None:
    """``values`` as an Arrow string array when every one is a ``str`` (or
    ``None`` when ``nullable``) encodable as UTF-8 (no lone surrogate); else ``None``."""
    kinds = set(map(type, values))
    if not kinds <= ({str, type(None)} if nullable else {str}):
        return None
    try:
        return pa.array(values, pa.string())
    except UnicodeEncodeError:
        return None


def names_pass(names: pa.Array) -> bool:
    """Whether every value of a non-null string column passes :func:`check_name`."""
    if not len(names):
        return True
    if names.null_count:
        return False
    if pc.max(pc.utf8_length(names)).as_py() > MAX_NAME_LENGTH:
        return False
    return not (pc.any(pc.match_substring_regex(names, _BLANK_COLUMN)).as_py()
                or pc.any(pc.match_substring_regex(names, _FORBIDDEN_COLUMN)).as_py())


def types_pass(types: pa.Array) -> bool:
    """Whether every non-null value passes :func:`check_type` (checked once per distinct value)."""
    for value in pc.unique(types.drop_null()).to_pylist():
        if len(value) > MAX_TYPE_LENGTH or not value.isidentifier():
            return False
    return True


def texts_pass(texts: pa.Array) -> bool:
    """Whether every value of a string column passes :func:`check_text` (surrogates were refused by Arrow)."""
    present = texts.drop_null()
    if not len(present):
        return True
    if pc.max(pc.utf8_length(present)).as_py() > MAX_TEXT_LENGTH:
        return False
    return not pc.any(pc.match_substring(present, "\x00")).as_py()


# -- types as written ---------------------------------------------------------------

_RUNS = re.compile(r"_{2,}")


def stored_type(shown: str, *, fallback: str) -> tuple[str, str | None]:
    """The graphmem type for a type string, and the string to keep if they differ.

    Examples
    --------
    >>> stored_type("person", fallback="Entity")
    ('person', None)
    >>> stored_type("works at", fallback="RELATED_TO")
    ('works_at', 'works at')
    >>> stored_type("3D model", fallback="Entity")
    ('T_3D_model', '3D model')
    >>> stored_type("位置する", fallback="RELATED_TO")
    ('位置する', None)
    >>> stored_type("gehört zu", fallback="RELATED_TO")
    ('gehört_zu', 'gehört zu')
    >>> stored_type("", fallback="Entity")
    ('Entity', '')
    """
    if len(shown) <= MAX_TYPE_LENGTH and shown.isidentifier():
        return shown, None
    # Keep every character an identifier may continue with (Unicode letters
    # included, as check_type accepts them); the rest become "_".
    word = _RUNS.sub("_", "".join(c if ("_" + c).isidentifier() else "_" for c in shown)).strip("_")
    if not word:
        # Nothing to keep ("", "--", "!?"): distinct strings still get
        # distinct types, so type filters keep them apart.
        word = f"{fallback}_{_digest(shown)}" if shown else fallback
    elif not word.isidentifier():  # starts with a digit (or a character only allowed after the first)
        word = "T_" + word
    if len(word) > MAX_TYPE_LENGTH:
        word = word[: MAX_TYPE_LENGTH - 9] + "_" + _digest(shown)
    return word, shown


def _digest(shown: str) -> str:
    return hashlib.sha1(shown.encode("utf-8", "surrogatepass")).hexdigest()[:8]
