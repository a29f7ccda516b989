"""Users' regular expressions, with RE2 semantics: matching takes time linear in the input, whatever the pattern
(`(a+)+$` included), so one tenant's rule cannot stall the server.

Patterns are checked with google-re2 and evaluated over whole columns by pyarrow compute (RE2 in C++, run
without the GIL). Both are the same RE2 dialect: no backreferences, no lookaround, repetition counts up to 1000.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc
import re2

from control_plane.allocation.errors import AllocationError

SYNTAX = "github.com/google/re2/wiki/Syntax"

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the reason goes to the user, not to the server's stderr


class RegexError(AllocationError):
    """A pattern RE2 refuses; the message says why and what RE2 accepts."""


@lru_cache(maxsize=512)
def capture_groups(pattern: str) -> int:
    """How many capture groups ``pattern`` has; raises RegexError when RE2 cannot compile it."""
    try:
        return int(re2.compile(pattern, _OPTIONS).groups)
    except re2.error as error:
        reason = (
            error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) else str(error)
        )
        raise RegexError(
            f"`{_shown(pattern)}` is not a valid RE2 regular expression ({reason}). RE2 syntax ({SYNTAX}) has "
            "no backreferences or lookaround, and repetition counts up to 1000."
        ) from None


def search(values: pa.Array | pa.ChunkedArray, pattern: str) -> pa.Array | pa.ChunkedArray:
    """Whether ``pattern`` matches anywhere in each value (null stays null)."""
    try:
        return pc.match_substring_regex(values, pattern=pattern)
    except pa.ArrowInvalid as error:  # validated before, so only a pattern this pyarrow's RE2 reads differently
        raise RegexError(f"`{_shown(pattern)}` could not be evaluated: {error}") from None


def first_group(values: pa.Array | pa.ChunkedArray, pattern: str) -> pa.Array | pa.ChunkedArray:
    """The first capture group of the leftmost match of ``pattern`` in each value: null where it does not match,
    the empty string where it matches but group 1 took no part."""
    found = search(values, pattern)
    whole = pc.replace_substring_regex(values, pattern=f"(?s)^.*?(?:{pattern}).*$", replacement=r"\1")
    return pc.if_else(found, whole, pa.scalar(None, pa.string()))


def _shown(pattern: str, limit: int = 60) -> str:
    return pattern if len(pattern) <= limit else pattern[:limit] + "…"
