"""The rules a config field's value must satisfy, declared in the schema next to the field
(``prmlab/config.py``, ``prmlab/sandbox/config.py``); ``prmlab/validation.py`` applies them.
See that module's docstring for the helpers' use.
"""
from __future__ import annotations

import dataclasses
import datetime
import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

_NO_DEFAULT = object()


# ----------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """What a field's value must satisfy. ``None`` always passes (OmegaConf already refuses null
    for a non-Optional field, and Optional fields use null for "off"/"all")."""

    constraint: str  # e.g. "> 0", "in [0, 1]": completes "expected <type> <constraint>"
    ok: Callable[[Any], bool]
    bad: Any = None  # a value that breaks the rule (the schema test sets it on every field)
    note: str = ""  # why the range is what it is, where that is not obvious
    typed: bool = True  # the constraint completes a type ("an integer > 0"); else it stands alone

    def expected(self, noun: str) -> str:
        return f"{noun} {self.constraint}".strip() if self.typed else self.constraint

    def check(self, value: Any) -> bool:
        return value is None or bool(self.ok(value))


class Choice(Rule):
    """One of a list of names; ``source`` (``"module:ATTR"``) is imported when first checked, so
    the schema names the list where it is defined without importing torch or the stage code."""

    def __init__(self, names: Sequence[str] = (), source: str = "", extra: Sequence[str] = ()):
        object.__setattr__(self, "_names", tuple(names))
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "extra", tuple(extra))
        super().__init__(constraint="", ok=lambda v: v in self.names(), bad="no-such-name")

    def names(self) -> tuple[str, ...]:
        if not self.source:
            return self._names
        mod, attr = self.source.split(":")
        return tuple(getattr(importlib.import_module(mod), attr)) + self.extra

    def expected(self, noun: str) -> str:
        return "one of " + ", ".join(self.names())

    def __repr__(self) -> str:
        return f"Choice({self.source or self._names})"


def _field(default: Any, rule: Rule, factory: Optional[Callable[[], Any]] = None) -> Any:
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"rule": rule})
    return dataclasses.field(default=default, metadata={"rule": rule})


def in_range(default: Any, lo: Optional[float] = None, hi: Optional[float] = None, *, lo_open: bool = False,
             hi_open: bool = False, note: str = "") -> Any:
    """A number in the interval (``None`` = unbounded on that side)."""
    def ok(v: Any) -> bool:
        return ((lo is None or (v > lo if lo_open else v >= lo)) and (hi is None or (v < hi if hi_open else v <= hi)))

    if lo is not None and hi is None:
        text = f"{'>' if lo_open else '>='} {lo:g}"
    elif lo is None and hi is not None:
        text = f"{'<' if hi_open else '<='} {hi:g}"
    else:
        text = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    bad = (lo if lo_open else lo - 1) if lo is not None else (hi if hi_open else hi + 1)
    return _field(default, Rule(text, ok, bad=bad, note=note))


def positive(default: Any, note: str = "") -> Any:
    """> 0: counts, sizes, steps, learning rates, timeouts."""
    return in_range(default, 0, lo_open=True, note=note)


def nonneg(default: Any, note: str = "") -> Any:
    """>= 0: weights (a lambda or a coefficient of 0 turns the term off), seeds, "0 = off" counts."""
    return in_range(default, 0, note=note)


def prob(default: Any, note: str = "") -> Any:
    """A probability or a share, in [0, 1]."""
    return in_range(default, 0, 1, note=note)


def unbounded(default: Any, note: str) -> Any:
    """Deliberately any number; ``note`` says why (every numeric field declares its range)."""
    return _field(default, Rule("", lambda v: True, note=note))


def choice(*names: Any, default: Any = _NO_DEFAULT) -> Any:
    """One of ``names`` (the default is the first unless given), for lists that are defined nowhere
    else: the schema is their definition."""
    return _field(names[0] if default is _NO_DEFAULT else default, Choice(names))


def choice_of(default: Any, source: str, extra: Sequence[str] = ()) -> Any:
    """One of the names in ``source`` (``"module:ATTR"``, imported when checked), plus ``extra``."""
    return _field(default, Choice(source=source, extra=extra))


def _is_date(v: Any) -> bool:
    try:
        datetime.date.fromisoformat(str(v))
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(v)))
    except ValueError:
        return False


def date(default: Any = None) -> Any:
    """A calendar date, YYYY-MM-DD."""
    return _field(default, Rule("a date in YYYY-MM-DD form", _is_date, bad="2024-13-01", typed=False))


def existing_file(default: Any = None) -> Any:
    """A path to an existing file (checked when set)."""
    return _field(default, Rule("the path of an existing file", lambda v: Path(v).is_file(), bad="/nonexistent/file",
                                typed=False))


def hf_checkpoint(default: Any = None) -> Any:
    """A local Hugging Face checkpoint directory (with config.json; checked when set)."""
    return _field(default, Rule("a Hugging Face checkpoint directory (with config.json)",
                                lambda v: (Path(v) / "config.json").is_file(), bad="/nonexistent/ckpt", typed=False))


def each(factory: Callable[[], list], element: Any, *, increasing: bool = False) -> Any:
    """A list whose elements all satisfy ``element`` (a field made by one of the helpers above)."""
    inner: Rule = element.metadata["rule"]

    def ok(v: Any) -> bool:
        v = list(v)
        return all(inner.check(x) for x in v) and (not increasing or all(a < b for a, b in zip(v, v[1:])))

    text = f"with every element {inner.constraint}" + (", increasing" if increasing else "")
    return _field(None, Rule(text, ok, bad=[inner.bad]), factory)


# ----------------------------------------------------------------------------- the schema, walked
