"""A lesson's `code:` references: dotted names of core objects whose real source the lesson shows.

`tests/test_lessons.py` checks that every reference in every lesson resolves; one that does not is a bug, and
:func:`code_source` says which name failed and why.
"""

from __future__ import annotations

import importlib
import inspect
from functools import cache
from typing import Any


class CodeReferenceError(LookupError):
    """A `code:` name that is not a core object with readable source (the message names it and the reason)."""


def resolve_code_name(dotted: str) -> Any:
    """Import `core.module.Object[.attr]`: the longest importable module prefix, then attribute lookups.

    Raises ImportError / AttributeError when the name does not exist.
    """
    parts = dotted.split(".")
    if parts[0] != "core":
        raise ImportError(f"{dotted!r}: lessons may only show code from core/")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            if cut == 1:
                raise
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@cache
def code_source(dotted: str) -> str:
    """The source text of core object `dotted` (read once per process with inspect.getsource), shown next to the
    prose. Raises CodeReferenceError when the name does not exist or has no readable source."""
    try:
        return inspect.getsource(resolve_code_name(dotted))
    except (ImportError, AttributeError, TypeError, OSError) as err:
        raise CodeReferenceError(f"`{dotted}` cannot be shown: {type(err).__name__}: {err}") from err
