"""Valid values of the config, declared next to each field, and the compose-time check.

The schema (``prmlab/config.py``, ``prmlab/sandbox/config.py``) declares each field's range or
choices in its definition, through the helpers below, e.g.::

    steps: int = positive(60)                            # > 0
    gamma: float = prob(1.0)                             # in [0, 1]
    fail_value: float = unbounded(0.0, "the paper also uses -1")   # deliberately any number
    name: str = choice_of("none", "prmlab.algos:ALGOS", extra=("none",))
    arch: str = choice("gpt2", "llama")                  # the first name is the default

Each helper returns a plain ``dataclasses.field`` whose default is the field's default and whose
``metadata["rule"]`` is a :class:`Rule`. Values stay plain str/int/float/bool/list (no Enum), so
the resolved config, and with it every stage cache key, does not depend on the rules. Names come
from where they are defined (``choice_of("module:ATTR")``), imported only when checked.

:func:`validate` applies, in order: unknown keys (``+foo=1`` appends to a typed config), every
field's rule, then the cross-field checks at the bottom of this file. The first problem raises a
:class:`prmlab.errors.ConfigError`: one line naming the field, the value and what was expected.
:func:`compose_error` turns Hydra's and OmegaConf's composition errors (unknown key, wrong type,
unknown group option, bad override syntax) into the same one line.

The rule helpers live in ``prmlab/rules.py`` (imported by the schema, so this module can import the
schema without a cycle).
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
import typing
from typing import Any, Callable, Iterator, Optional, Sequence

from prmlab.config import Config
from prmlab.errors import ConfigError
from prmlab.rules import Rule


def _type_hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(inner type, optional?) of ``Optional[X]``."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def schema_fields(cls: Optional[type] = None, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field, Any]]:
    """(dotted path, field, type) of every leaf field of the schema, recursively, in order."""
    if cls is None:
        cls = Config
    hints = _type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        inner, _ = _unwrap(tp)
        if dataclasses.is_dataclass(inner):
            yield from schema_fields(inner, prefix + f.name + ".")
        else:
            yield prefix + f.name, f, tp


def type_noun(tp: Any) -> str:
    """``int`` -> "an integer", ``Optional[float]`` -> "a number or null", ``List[int]`` -> "a list of integers"."""
    inner, optional = _unwrap(tp)
    if typing.get_origin(inner) in (list, tuple):
        (elem,) = typing.get_args(inner)[:1] or (Any,)
        noun = "a list of " + {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(elem, "values")
    else:
        noun = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(inner, "a value")
    return noun + (" or null" if optional else "")


def field_type(path: str, cls: Optional[type] = None) -> Optional[Any]:
    """The schema type at ``path`` (``eval.ks[0]`` -> int), or None when the path is not a field."""
    if cls is None:
        cls = Config
    m = re.fullmatch(r"(.*?)\[\d+\]", path)
    if m:
        tp = field_type(m[1], cls)
        args = typing.get_args(_unwrap(tp)[0]) if tp is not None else ()
        return args[0] if args else None
    node: Any = cls
    for part in path.split("."):
        if not (isinstance(node, type) and dataclasses.is_dataclass(node)):
            return None
        hints = _type_hints(node)
        if part not in hints:
            return None
        node = hints[part]
        if dataclasses.is_dataclass(_unwrap(node)[0]):
            node = _unwrap(node)[0]
    return node


def show(value: Any) -> str:
    """A value the way one would write it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(show(v) for v in value) + "]"
    return str(value)


def invalid(path: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(path, f"{path}={show(value)} is not valid: expected {expected}")


def _unknown_key(path: str, known: Sequence[str], owner: str) -> ConfigError:
    parent, _, key = path.rpartition(".")
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.4)
    hint = f"; did you mean {(parent + '.' if parent else '') + close[0]}?" if close else ""
    return ConfigError(path, f"{path}: unknown key: expected a field of {owner}{hint}")


# ----------------------------------------------------------------------------- validate
def validate(cfg) -> None:
    """Check a composed config (without its ``hydra`` node); raise ConfigError on the first problem."""
    from omegaconf import OmegaConf

    _check_keys(cfg, Config, "")
    for path, f, tp in schema_fields(Config):
        rule: Optional[Rule] = f.metadata.get("rule")
        if rule is None:
            continue
        value = OmegaConf.select(cfg, path, throw_on_missing=False)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if not rule.check(value):
            raise invalid(path, value, rule.expected(type_noun(tp)))
    for check in CROSS_CHECKS:
        check(cfg)


def _check_keys(node, cls: type, prefix: str) -> None:
    """Every key of ``node`` is a field of ``cls`` (``+foo=1`` can add keys to a typed config)."""
    from omegaconf import DictConfig

    hints = _type_hints(cls)
    for key in node.keys():
        if key == "hydra" and not prefix:
            continue
        path = prefix + str(key)
        if key not in hints:
            raise _unknown_key(path, list(hints), cls.__name__)
        inner = _unwrap(hints[key])[0]
        child = node._get_node(key)
        if dataclasses.is_dataclass(inner) and isinstance(child, DictConfig) and not child._is_none():
            _check_keys(child, inner, path + ".")


# ----------------------------------------------------------------------------- Hydra's errors, in one line
def compose_error(exc: BaseException) -> ConfigError:
    """One line (a ConfigError) for any exception raised while Hydra composed the config."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

    if isinstance(exc, ConfigError):
        return exc
    chain, e = [], exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    oc = next((e for e in chain if isinstance(e, OmegaConfBaseException) and getattr(e, "full_key", None)), None)
    if oc is not None:
        path = str(oc.full_key)
        if isinstance(oc, (ConfigAttributeError, ConfigKeyError)):
            owner = getattr(oc, "object_type", None)
            known = [f.name for f in dataclasses.fields(owner)] if dataclasses.is_dataclass(owner) else []
            return _unknown_key(path, known, getattr(owner, "__name__", "the config"))
        if isinstance(oc, ValidationError):
            tp = field_type(path)
            written = _override_value(chain, path)
            if tp is not None:
                if written is not None:  # as written on the command line
                    return ConfigError(path, f"{path}={written} is not valid: expected {type_noun(tp)}")
                return invalid(path, getattr(oc, "value", None), type_noun(tp))
        return ConfigError(path, f"{path}: {_first_line(oc)}")
    missing = next((e for e in chain if isinstance(e, MissingConfigException)), None)
    if missing is not None:
        m = re.search(r"Could not find '([^']+)'", str(missing))
        options = re.findall(r"^\t(\S+)$", str(missing).split("Config search path")[0], flags=re.M)
        if m and "/" in m[1]:
            group, option = m[1].rsplit("/", 1)
            group = group.replace("/", ".")
            return ConfigError(group, f"{group}={option} is not valid: expected one of {', '.join(options)}"
                               if options else f"{group}={option}: no such config file ({m[1]}.yaml)")
        return ConfigError("", _first_line(missing))
    if isinstance(exc, OverrideParseException):
        return ConfigError(getattr(exc, "override", "") or "", f"cannot parse override: {_first_line(exc)}")
    text = " ".join(l.strip() for l in str(exc).splitlines() if l.strip() and not l.startswith("See https"))
    m = re.match(r"Ambiguous value for argument '([^=']+)=(.*?)'", text)
    if m:
        return ConfigError(m[1].lstrip("+~"), f"{m[1]}={m[2]} is not valid: expected one value (a sweep needs -m; "
                                              "a list is written [a,b]; quote a string with commas)")
    m = re.search(r"'([\w.+~\[\]-]+)=", text)
    return ConfigError(m[1].lstrip("+~") if m else "",
                       f"could not compose the config: {text or type(exc).__name__}")


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _override_value(chain: list, path: str) -> Optional[str]:
    """The value as written on the command line (``Error merging override algo.steps=abc``)."""
    for e in chain:
        m = re.match(rf"Error merging override \+*{re.escape(path)}=(.*)$", str(e).strip())
        if m:
            return m[1]
    return None


# ----------------------------------------------------------------------------- cross-field checks
CROSS_CHECKS: list[Callable[[Any], None]] = []


def cross_check(fn: Callable[[Any], None]) -> Callable[[Any], None]:
    CROSS_CHECKS.append(fn)
    return fn


# The algorithms whose update adds beta * KL-estimate to the *loss* (prmlab.algos.grpo.update, which
# RLOO reuses); PPO puts the estimate in the reward instead, where k1 is the classic choice.
KL_IN_LOSS = ("grpo", "rloo")


@cross_check
def _rl_algorithm(cfg) -> None:
    a = cfg.algo
    if a.name == "none":
        if cfg.gradients.enabled:
            raise invalid("gradients.enabled", True, "false with algo=none (the analyses need an RL baseline)")
        return
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if a.prompts_per_step % world:
        raise invalid("algo.prompts_per_step", a.prompts_per_step, f"a multiple of the {world} ranks (WORLD_SIZE)")
    if a.name in KL_IN_LOSS and a.kl_coef and a.kl_estimator == "k1":
        # d/dθ E_pi[log pi - log pi_ref] = E_pi[(log pi - log pi_ref + 1) ∇ log pi] is what the KL needs,
        # but a loss term k1 = log pi - log pi_ref back-propagates E_pi[∇ log pi] = 0: no pull to the reference
        raise invalid("algo.kl_estimator", "k1",
                      f"k2 or k3 with algo={a.name} and kl_coef>0 (as a loss term, k1's expected gradient is zero)")
    if a.name in KL_IN_LOSS and a.group_size < 2:
        raise invalid("algo.group_size", a.group_size,
                      f">= 2 with algo={a.name} (a group of one response has no baseline: its advantage is 0)")
    if a.n_checkpoints > a.steps:
        raise invalid("algo.n_checkpoints", a.n_checkpoints, f"<= algo.steps={a.steps} (one checkpoint per step at most)")


@cross_check
def _model(cfg) -> None:
    m = cfg.model
    if m.name == "hf" and not m.path:
        raise invalid("model.path", m.path, "a local Hugging Face checkpoint directory with model=hf")
    if m.name == "tiny":
        if m.n_embd % m.n_head:
            raise invalid("model.n_embd", m.n_embd, f"a multiple of model.n_head={m.n_head}")
        if cfg.sft.max_len > m.n_positions:
            raise invalid("sft.max_len", cfg.sft.max_len, f"<= model.n_positions={m.n_positions} (the tiny model's context)")


@cross_check
def _task(cfg) -> None:
    from omegaconf import OmegaConf

    t = cfg.task
    path = OmegaConf.select(cfg, "task.path", throw_on_missing=False)
    if t.name == "livecodebench" and not path:
        raise invalid("task.path", path, "a LiveCodeBench JSONL file with task=livecodebench")
    if t.name == "synthetic" and t.long_share > 0:
        from prmlab.tasks.synthetic import LONG_MAX_LEN, LONG_NEW_TOKENS

        # the long tier's prompts reach ~290 tokens and its references ~190: shorter limits would
        # truncate its SFT targets or cut its responses before the program ends
        if cfg.sft.max_len < LONG_MAX_LEN:
            raise invalid("sft.max_len", cfg.sft.max_len, f">= {LONG_MAX_LEN} with task.long_share > 0 (long prompt + reference)")
        for key in ("algo.max_new_tokens", "eval.max_new_tokens"):
            v = OmegaConf.select(cfg, key)
            if v < LONG_NEW_TOKENS:
                raise invalid(key, v, f">= {LONG_NEW_TOKENS} with task.long_share > 0 (the long references' length)")
    long_constants = OmegaConf.select(cfg, "task.long_constants", default=None)
    if long_constants is not None and not (t.name == "synthetic" and t.long_share > 0):
        # it renders the long tier only: without one the suite is the same, under another cache key
        raise invalid("task.long_constants", long_constants, "null unless task=synthetic with task.long_share > 0")
    long_comments = OmegaConf.select(cfg, "task.long_comments", default=None)
    if long_comments is not None and not (t.name == "synthetic" and t.long_share > 0):
        raise invalid("task.long_comments", long_comments, "null unless task=synthetic with task.long_share > 0")
    if t.date_from and t.date_to and t.date_from > t.date_to:
        raise invalid("task.date_from", t.date_from, f"<= task.date_to={t.date_to!r}")
    split, ev = cfg.eval.split, {"train": t.n_train, "rl": t.n_rl, "val": t.n_val, "test": t.n_test}
    if t.name == "synthetic" and split in ev and not ev[split]:
        raise invalid("eval.split", split, f"a split with problems (task.n_{split}=0)")
    if t.name != "synthetic" and split not in ("train", "test"):
        raise invalid("eval.split", split, f"train or test with task={t.name} (it has no {split} split)")


@cross_check
def _eval(cfg) -> None:
    e = cfg.eval
    if max(e.ks, default=1) > e.n_samples:
        raise invalid("eval.ks", list(e.ks), f"every k <= eval.n_samples={e.n_samples} (pass@k needs k samples)")


@cross_check
def _prm(cfg) -> None:
    p = cfg.prm
    if cfg.algo.name == "ppo" and p.value_init and p.loss == "ce":
        # ValueInit maps the PRM's [-1, 1] output onto the reward scale through the critic's linear
        # head (prmlab.prm.use.make_critic); a CE PRM outputs logits, which no affine map puts there
        raise invalid("prm.loss", "ce", "mse with prm.value_init=true and algo=ppo (ValueInit needs an output on "
                      "the label scale; use a CE PRM for DenseReward only)")
    if p.credit is not None:
        if cfg.algo.name not in ("grpo", "rloo"):
            raise invalid("prm.credit", p.credit, f"null with algo={cfg.algo.name} (completability credit is for the "
                          "critic-free algorithms grpo and rloo; PPO uses the PRM through prm.dense / prm.value_init)")
        if p.dense:
            raise invalid("prm.dense", True, f"false with prm.credit={p.credit} (one use of the PRM at a time)")
        if p.credit == "shaped" and cfg.reward.name != "binary":
            raise invalid("reward.name", cfg.reward.name, "binary with prm.credit=shaped (a failing response's shaped "
                          "reward must stay below a pass; a pass-rate reward can already be close to one)")
        if p.credit == "shaped" and p.credit_coef is not None and not p.credit_coef < 1:
            raise invalid("prm.credit_coef", p.credit_coef, "< 1 with prm.credit=shaped (a failing response stays "
                          "below a pass)")


@cross_check
def _until(cfg) -> None:
    if cfg.get("until") is None:
        return
    from prmlab.stages import full_plan  # the stage table imports no torch; only this check needs it

    names = [p.stage.name for p in full_plan(cfg)]
    if cfg.until not in names:
        raise invalid("until", cfg.until, f"a stage of this run's plan: one of {', '.join(names)}")


@cross_check
def _reward(cfg) -> None:
    r = cfg.reward
    if r.name == "binary" and not r.pass_value > r.fail_value:
        raise invalid("reward.fail_value", r.fail_value, f"< reward.pass_value={r.pass_value:g}")
