"""Training-set size ladders: the one grammar of ``--n-train`` and of a sweep file's ``n_train``.

A ladder is written as

- a list of sizes: ``[50, 150]`` (YAML) or ``50,150`` (text); one size: ``250``;
- a range with both ends, ``A..B`` (1 <= A <= B): the sizes of the dataset card's ladder that
  lie in [A, B], e.g. ``50..950`` over rMD17's ``[50, 150, 350, 550, 750, 950]``.

:func:`parse_ladder` checks the form without knowing the dataset (so a sweep file is validated
before any card is read); :func:`resolve_ladder` turns it into sizes for one dataset. Both raise
``ValueError`` with a one-line message (pydantic validators need that type); callers that talk to
users directly wrap it in ``ConfigError``.
"""

from __future__ import annotations

import re
from typing import Any

_RANGE = re.compile(r"^(\d*)\s*\.\.\s*(\d*)$")
_INT = re.compile(r"^[+]?\d+$")

#: the accepted forms, for error messages
FORMS = "a list (50,150,350), one size (250) or a range with both ends (50..950, the card's ladder in [50, 950])"

#: a parsed ladder: explicit sizes, or a normalised ``"A..B"`` range still to be resolved
Ladder = list[int] | str


def _sizes(items: list[Any], text: str) -> list[int]:
    out: list[int] = []
    for item in items:
        if isinstance(item, str):
            item = item.strip()
            if not item:
                raise ValueError(f"{text!r} has an empty entry; use {FORMS}")
            if not _INT.match(item):
                raise ValueError(f"{text!r}: {item!r} is not a training-set size; use {FORMS}")
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise ValueError(f"training-set size {item!r} is not a positive integer")
        out.append(item)
    if len(set(out)) != len(out):
        raise ValueError(f"training-set sizes {out} contain duplicates")
    return out


def parse_ladder(value: Any) -> Ladder:
    """A ladder in normal form: a list of distinct positive sizes, or the string ``"A..B"``.

    Accepts an int, a list of ints or a string (``"50,150"``, ``"250"``, ``"50..950"``).
    ``ValueError`` for anything else, e.g. ``"50.."`` (a range needs both ends) or ``"50,,100"``.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected training-set sizes: {FORMS}")
    if isinstance(value, int):
        return _sizes([value], str(value))
    if isinstance(value, str):
        text = value.strip()
        match = _RANGE.match(text)
        if match:
            low, high = match.groups()
            if not low or not high:
                raise ValueError(f"range {text!r} needs both ends, e.g. 50..950")
            lo, hi = int(low), int(high)
            if lo < 1 or lo > hi:
                raise ValueError(f"range {text!r} must be 'A..B' with 1 <= A <= B")
            return f"{lo}..{hi}"
        if not text:
            raise ValueError(f"no training-set sizes given; use {FORMS}")
        return _sizes(text.split(","), text)
    if isinstance(value, list):
        if not value:
            raise ValueError(f"the list of training-set sizes is empty; use {FORMS}")
        if any(isinstance(item, str) for item in value):
            raise ValueError(f"training-set sizes {value} must be numbers")
        return _sizes(value, str(value))
    raise ValueError(f"expected training-set sizes: {FORMS}")


def resolve_ladder(ladder: Ladder, dataset: str, card_ladder: list[int] | None) -> list[int]:
    """The sizes of ``ladder`` for ``dataset`` (whose card ladder is ``card_ladder``), ascending.

    A list is returned sorted; a range takes the card ladder's sizes in [A, B]. ``ValueError``
    when a range meets a dataset without a card ladder or selects no size.
    """
    ladder = parse_ladder(ladder)
    if isinstance(ladder, list):
        return sorted(ladder)
    if not card_ladder:
        raise ValueError(
            f"range {ladder!r}: {dataset} has no ladder on a dataset card; list the sizes, e.g. 50,100,250"
        )
    lo, hi = (int(x) for x in ladder.split(".."))
    sizes = sorted(n for n in card_ladder if lo <= n <= hi)
    if not sizes:
        raise ValueError(f"range {ladder!r}: the ladder of {dataset} ({list(card_ladder)}) has no size in that range")
    return sizes
