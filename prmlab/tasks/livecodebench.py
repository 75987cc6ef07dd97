"""LiveCodeBench ``code_generation`` rows (JSONL, optionally gzipped) as prmlab ``Problem``s.

Row schema (one JSON object per line, as in the ``livecodebench/code_generation(_lite)`` dataset):
``question_title``, ``question_content``, ``platform`` (leetcode | atcoder | codeforces),
``question_id``, ``contest_id`` (optional), ``contest_date`` (ISO date or datetime),
``starter_code`` ("" for stdin problems), ``difficulty`` (easy | medium | hard),
``public_test_cases`` and ``private_test_cases``, ``metadata``.

- Test lists are JSON strings (or already lists) of ``{"input", "output", "testtype"}``. Private
  tests may instead be compressed: base64 -> zlib -> pickle -> JSON string. The pickle is read
  with an unpickler that refuses every global, so a crafted file cannot run code: only the plain
  str/bytes/list/dict a test list needs can come out of it.
- ``testtype == "stdin"`` becomes a ``stdio`` test (input = stdin, expected = stdout).
  ``testtype == "functional"`` becomes a ``functional`` test: the input holds one JSON value per
  line (the positional arguments), the output one JSON value. ``metadata`` (a JSON string or an
  object) names the function in ``func_name``; when the starter code defines ``class Solution``
  (LeetCode) the entry point is ``Solution.<func_name>``, which the sandbox calls on a fresh
  ``Solution()`` per test.
- Tests are public + private, in that order; ``meta["n_public"]`` says how many are public.
- ``contest_date`` window: ``date_from <= date <= date_to`` (days, inclusive; either may be None).

The model writes the whole program, so ``code_prefix`` is LiveCodeBench's own import prelude
(``from typing import *``, ``from collections import *``, ...; its harness prepends the same), which
LeetCode starter code needs for annotations such as ``List[int]``; ``stop`` is empty (a whole
program contains ``def``/``class`` lines, so the function-completion stops would cut it).
The category is ``contest`` (the PRM paper's Contest vs NL2Alg split); the platform is in ``meta``.
A malformed line raises ``ValueError`` naming the file, the line and what was expected.
"""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import pickle
import zlib
from typing import Optional, Union

from prmlab.types import Problem, TestCase

REQUIRED = ("question_title", "question_content", "platform", "question_id", "contest_date", "starter_code",
            "difficulty", "public_test_cases", "private_test_cases", "metadata")
DIFFICULTIES = ("easy", "medium", "hard")

# The same prelude LiveCodeBench's harness puts before every solution (names only, no side effects
# beyond the recursion limit it also raises).
PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)

DateLike = Union[str, dt.date, dt.datetime, None]


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test-case pickle")


def decode_test_cases(value) -> list:
    """A test list from plain JSON, an already-decoded list, or base64 -> zlib -> pickle -> JSON."""
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        raise ValueError(f"test cases must be a JSON string or a list, got {type(value).__name__}")
    try:
        out = json.loads(value)
    except ValueError:
        try:
            raw = zlib.decompress(base64.b64decode(value.encode("ascii"), validate=True))
            out = _NoGlobals(io.BytesIO(raw)).load()
        except Exception as e:
            raise ValueError(f"test cases are neither JSON nor base64(zlib(pickle(JSON))): "
                             f"{type(e).__name__}: {e}") from None
        if isinstance(out, bytes):
            out = out.decode("utf-8")
        if isinstance(out, str):
            out = json.loads(out)
    if not isinstance(out, list):
        raise ValueError(f"test cases must decode to a list, got {type(out).__name__}")
    return out


def _test_case(t, fn: Optional[str]) -> TestCase:
    if not isinstance(t, dict) or not {"input", "output", "testtype"} <= set(t):
        raise ValueError("each test case must be an object with input, output and testtype")
    kind = t["testtype"]
    if kind == "stdin":
        return TestCase(kind="stdio", input=str(t["input"]), expected=str(t["output"]))
    if kind == "functional":
        if not fn:
            raise ValueError("functional test case but metadata has no func_name")
        args = [json.loads(line) for line in str(t["input"]).split("\n") if line.strip()]
        return TestCase(kind="functional", input=args, expected=json.loads(t["output"]))
    raise ValueError(f"testtype must be 'stdin' or 'functional', got {kind!r}")


def _date(value: DateLike) -> Optional[dt.date]:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = str(value).strip().replace("Z", "+00:00")
    try:
        return dt.datetime.fromisoformat(s).date()
    except ValueError:
        return dt.date.fromisoformat(s[:10])


def _prompt(row: dict, functional: bool) -> str:
    if functional or row["starter_code"].strip():
        fmt = ("Complete the following starter code; return the answer from the method.\n"
               f"{row['starter_code'].rstrip()}\n")
    else:
        fmt = "Read the input from stdin, solve the problem and write the answer to stdout.\n"
    return f"### Question:\n{row['question_content'].strip()}\n\n### Format:\n{fmt}\n### Answer:\n"


def problem_from_row(row: dict) -> Problem:
    """One LiveCodeBench row as a ``Problem`` (raises ValueError on a malformed row)."""
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise ValueError(f"missing field(s) {missing}")
    meta = row["metadata"]
    meta = json.loads(meta) if isinstance(meta, str) and meta.strip() else (meta or {})
    if not isinstance(meta, dict):
        raise ValueError("metadata must be a JSON object")
    fn = meta.get("func_name")
    difficulty = str(row["difficulty"]).lower()
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {row['difficulty']!r}")
    public = decode_test_cases(row["public_test_cases"])
    private = decode_test_cases(row["private_test_cases"])
    tests = [_test_case(t, fn) for t in public + private]
    if not tests:
        raise ValueError("no test cases")
    functional = any(t.kind == "functional" for t in tests)
    entry = None
    if functional:
        entry = f"Solution.{fn}" if "class Solution" in row["starter_code"] else fn
    date = _date(row["contest_date"])
    return Problem(
        id=str(row["question_id"]), prompt=_prompt(row, functional), tests=tests, entry_point=entry,
        difficulty=difficulty, category="contest", source="livecodebench", reference=None,
        code_prefix=PRELUDE, split="test", stop=[],
        meta={"platform": row["platform"], "contest_id": row.get("contest_id"), "title": row["question_title"],
              "contest_date": date.isoformat() if date else None, "n_public": len(public),
              "starter_code": row["starter_code"]},
    )


def load_livecodebench(path: str, date_from: DateLike = None, date_to: DateLike = None) -> list[Problem]:
    """Problems of a LiveCodeBench JSONL file whose contest_date lies in [date_from, date_to]."""
    lo, hi = _date(date_from), _date(date_to)
    opener = gzip.open if str(path).endswith(".gz") else open
    problems = []
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("the line is not a JSON object")
                p = problem_from_row(row)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"{path}:{lineno}: expected a LiveCodeBench code_generation row "
                                 f"({', '.join(REQUIRED)}): {e}") from None
            d = _date(p.meta["contest_date"])
            if (lo and (d is None or d < lo)) or (hi and (d is None or d > hi)):
                continue
            problems.append(p)
    return problems
