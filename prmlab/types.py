"""Records that cross stage and module boundaries (docs/DESIGN.md, "Contracts").

Everything here is plain data: dataclasses of JSON-able fields (plus torch tensors in
``RolloutBatch``), so records can be written to ``*.jsonl`` and read back by ``analysis/``
without importing models. Tensor fields carry their shape in a trailing comment.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Optional

if TYPE_CHECKING:  # torch stays un-imported at run time so the sandbox never loads it
    import torch

TestKind = Literal["functional", "stdio", "assert"]
ErrorClass = Literal["compile", "runtime", "timeout", "memory", "wrong_answer", "none"]
ERROR_CLASSES: tuple[str, ...] = ("compile", "runtime", "timeout", "memory", "wrong_answer", "none")
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")
RESPONSE_CATEGORIES: tuple[str, ...] = ("correct", "revised", "wrong")
PROMPT_CATEGORIES: tuple[str, ...] = ("easy", "medium", "hard")

# Stop strings that end a function body written after a ``def`` header (HumanEval convention).
FUNCTION_STOPS: tuple[str, ...] = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")


@dataclass
class TestCase:
    """One unit test.

    kind == "functional": ``input`` is the JSON list of positional arguments passed to the entry
        point, ``expected`` the JSON value it must return (compared by value in the parent).
    kind == "stdio": ``input`` is the stdin text, ``expected`` the stdout text (whitespace-tolerant).
    kind == "assert": ``input`` is a Python statement (e.g. ``assert candidate(2) == 4``) run in
        the child after the program; ``expected`` is unused (None).
    """

    kind: TestKind
    input: Any
    expected: Any = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "input": self.input, "expected": self.expected}

    @classmethod
    def from_dict(cls, d: dict) -> "TestCase":
        return cls(kind=d["kind"], input=d["input"], expected=d.get("expected"))


@dataclass
class Problem:
    """A prompt plus unit tests.

    ``prompt`` is the text given to the model. The executed program is
    ``code_prefix + response`` (``build_program``): for function-completion sources
    (synthetic, HumanEval) ``code_prefix`` is the prompt itself (it ends in a ``def`` header);
    for sources where the model writes whole programs (LiveCodeBench) it is "".
    """

    id: str
    prompt: str
    tests: list[TestCase]
    entry_point: Optional[str] = None
    difficulty: str = "medium"  # easy | medium | hard
    category: str = "default"  # e.g. nl2alg | contest
    source: str = "synthetic"
    reference: Optional[str] = None  # a reference *response* (so build_program(reference) passes)
    code_prefix: str = ""
    split: str = "test"  # train | val | test
    stop: list[str] = field(default_factory=lambda: list(FUNCTION_STOPS))
    meta: dict = field(default_factory=dict)

    def build_program(self, response: str) -> str:
        return self.code_prefix + response

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["tests"] = [t.to_dict() for t in self.tests]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Problem":
        d = dict(d)
        d["tests"] = [TestCase.from_dict(t) for t in d["tests"]]
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown Problem field(s) {sorted(unknown)}; expected a subset of {sorted(names)}")
        return cls(**d)


@dataclass
class TestOutcome:
    """Outcome of one test: ``passed`` decided by the parent; ``error`` one of ERROR_CLASSES."""

    passed: bool
    error: str = "none"
    detail: str = ""  # short human-readable reason (truncated), never used for pass/fail


@dataclass
class Verdict:
    """Result of running one program against a problem's tests."""

    outcomes: list[TestOutcome]
    error: str = "none"  # first non-"none" error class among the tests, or "none"
    wall_time: float = 0.0  # seconds spent executing (0 for a cache hit)
    cached: bool = False

    @property
    def n_tests(self) -> int:
        return len(self.outcomes)

    @property
    def n_passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def pass_rate(self) -> float:
        return self.n_passed / self.n_tests if self.outcomes else 0.0

    @property
    def all_passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    def to_dict(self) -> dict:
        return {
            "all_passed": self.all_passed,
            "pass_rate": self.pass_rate,
            "error": self.error,
            "wall_time": self.wall_time,
            "outcomes": [dataclasses.asdict(o) for o in self.outcomes],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Verdict":
        return cls(
            outcomes=[TestOutcome(**o) for o in d["outcomes"]],
            error=d.get("error", "none"),
            wall_time=d.get("wall_time", 0.0),
        )


@dataclass
class Rollout:
    """One sampled response, with its line structure (docs/DESIGN.md, "Line steps")."""

    problem_id: str
    prompt_ids: list[int]
    response_ids: list[int]  # generated tokens, stop/EOS handling already applied
    response: str  # text of the response (what is appended to code_prefix)
    lines: list[str]  # response.split("\n")  (a trailing empty string is dropped)
    line_end_tokens: list[int]  # per line, index into response_ids of the token covering its newline
    logprobs: list[float] = field(default_factory=list)  # sampling-time log-probs, one per response token
    finished: bool = True  # False when cut by max_new_tokens


@dataclass
class LabeledResponse:
    """One PRM training record (prm_collect output)."""

    problem_id: str
    checkpoint: int
    response: str
    lines: list[str]
    labels: list[int]  # +1 completable prefix, -1 after the first error, 0 comment/blank
    first_error_line: Optional[int]  # 0-based index of the first -1 line, None when correct
    category: str  # correct | revised | wrong
    prompt_category: str = ""  # easy | medium | hard (filled once all responses of a prompt are in)
    n_prefix_checks: int = 0
    n_completions: int = 0
    n_executions: int = 0
    generated_tokens: int = 0
    pass_rate: float = 0.0
    difficulty: str = ""
    m_star: int = -1  # number of leading completable lines found by the search (-1: not searched)
    monotone: Optional[bool] = None  # linear search only: were the prefix results T..T F..F?
    completable: list[bool] = field(default_factory=list)  # per line: prefix ending there completable


@dataclass
class RolloutBatch:
    """A padded batch of rollouts as the RL algorithms consume it.

    Layout: each row is ``prompt (left-padded to P) + response (right-padded to T)``; the
    response tokens are columns ``P .. P+T-1`` of ``input_ids``. Samples of one prompt are
    consecutive and share ``group_ids``.
    """

    input_ids: "torch.Tensor"  # [B, P+T] long
    attention_mask: "torch.Tensor"  # [B, P+T] long, 0 on padding
    response_mask: "torch.Tensor"  # [B, T] float, 1 on real response tokens
    logprobs: "torch.Tensor"  # [B, T] behaviour-policy log-probs of the response tokens
    ref_logprobs: "torch.Tensor"  # [B, T] reference (SFT) policy log-probs
    rewards: "torch.Tensor"  # [B, T] per-token task reward (outcome + dense PRM); KL is added by PPO
    scores: "torch.Tensor"  # [B] scalar outcome reward of each response (binary or pass rate)
    group_ids: "torch.Tensor"  # [B] long, index of the prompt each sample answers
    prompt_len: int  # P
    values: Optional["torch.Tensor"] = None  # [B, T] critic values at sampling time (PPO only)
    # [B, T] a per-token advantage term the critic-free algorithms add (prm.credit=step), or None
    credit: Optional["torch.Tensor"] = None
