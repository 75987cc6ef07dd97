"""Sampler throughput on the tiny default: ``model.generate`` vs the HF and fast paths of ``prmlab.sampling``.

    python benchmarks/bench_sampler.py [--prompts 256] [--batch 64 256] [--max-new-tokens 160]
        [--temperature 1.0] [--top-p 1.0] [--rounds 1] [--threads N] [--allocators] [--json OUT]
    python benchmarks/bench_sampler.py --group 8 [--long] ...   (the shared prefill)

The tiny default policy (``ModelConfig()``: GPT-2, 2 layers, n_embd 128, vocab 512, built by
``build_tiny`` from the synthetic suite's text exactly as the SFT stage does, random init) samples
one response to each of ``--prompts`` synthetic prompts (``generate_suite``), at each batch size,
through
  (a) ``model.generate(do_sample=True, temperature, top_p, top_k=0, max_new_tokens)``, prompts
      left-padded, EOS as padding (HF's own sampler and DynamicCache);
  (b) ``prmlab.sampling.sample`` with ``fast=False`` (the HF path: the HF forward under prmlab's
      decode loop);
  (c) ``prmlab.sampling.sample`` with ``fast=True`` (the fast path).
No stop strings (``generate`` has none here), so every method runs each row to EOS or
``--max-new-tokens``. Throughput = response tokens (up to and including EOS) / wall time; the three
methods alternate within a round so they see the same background load, and the median round is
reported with the ratio to (a). (b) and (c) get the same per-row seeds, so the script also prints
how many of their responses are identical (the fast path's correctness check at scale).

``--group G`` repeats each of ``--prompts / G`` prompts G times, as an RL step samples a group of
G responses per prompt, and compares (c) with (d), the fast path prefilling every row
(``prmlab.sampling.fast.prefill`` with ``share_prompts=False``); ``--long`` draws the prompts
from the synthetic suite's long tier (the long testbed's prompts, about 270 tokens). Without
``--group`` no two prompts are equal and (c) prefills every row anyway.

``--allocators`` re-runs (a) and (c) at the smallest batch size in child processes under glibc
malloc, glibc with ``MALLOC_ARENA_MAX=1``, jemalloc and tcmalloc (``LD_PRELOAD`` of the Debian
packages ``libjemalloc2`` / ``libtcmalloc-minimal4`` when installed) and prints tokens/s for each.
"""
from __future__ import annotations

import argparse
import contextlib
from dataclasses import replace
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from prmlab.config import ModelConfig  # noqa: E402
from prmlab.models import build_tiny, load_policy, load_tokenizer  # noqa: E402
from prmlab.sampling import SamplingParams, row_seeds, sample  # noqa: E402
from prmlab.sampling import fast as fast_mod  # noqa: E402
from prmlab.sampling.fast import fast_lm  # noqa: E402
from prmlab.tasks.synthetic import generate_suite  # noqa: E402

ALLOCATORS = {
    "glibc": {},
    "glibc MALLOC_ARENA_MAX=1": {"MALLOC_ARENA_MAX": "1"},
    "jemalloc": {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"},
    "tcmalloc": {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"},
}


def build_model(workdir: Path, long: bool = False):
    problems = generate_suite(0, 400, 0, 0, long_share=1.0 if long else 0.0)
    texts = [p.prompt + (p.reference or "") for p in problems]
    path = build_tiny(ModelConfig(), texts, workdir / "tiny", seed=0)
    model = load_policy(path, torch.device("cpu")).eval()
    assert fast_lm(model) is not None  # else "fast" would measure the HF path
    return model, load_tokenizer(path), [p.prompt for p in problems]


def run_generate(model, tok, prompts: list[str], params: SamplingParams) -> int:
    """Tokens sampled by ``model.generate`` over ``prompts`` in batches (sorted by length, as
    ``prmlab.sampling.sample`` does, so padding is the same)."""
    eos = tok.eos_token_id
    prompts = sorted(prompts, key=lambda p: len(tok(p)["input_ids"]))
    n = 0
    for i in range(0, len(prompts), params.batch_size):
        enc = tok(prompts[i : i + params.batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0,
                                 max_new_tokens=params.max_new_tokens, pad_token_id=eos, eos_token_id=eos)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            n += row.index(eos) + 1 if eos in row else len(row)
    return n


def measure(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def bench(model, tok, prompts, batches, args, methods=("generate", "sample", "fast")) -> dict:
    seeds = row_seeds(1, len(prompts))
    table = {}
    for B in batches:
        params = SamplingParams(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                                batch_size=B)
        runs = {m: [] for m in methods}
        same = None
        for _ in range(args.rounds):
            outs = {}
            for m in methods:
                if m == "generate":
                    dt, n = measure(lambda: run_generate(model, tok, prompts, params))
                elif m == "unshared":  # the fast path, every row prefilled
                    with unshared_prefill():
                        dt, rs = measure(lambda: sample(model, tok, prompts, replace(params, fast=True), seeds=seeds))
                    outs[m], n = rs, sum(len(r.response_ids) for r in rs)
                else:
                    # "sample" is the HF reference path (fast=False), "fast" the fast path
                    p = replace(params, fast=m == "fast")
                    dt, rs = measure(lambda: sample(model, tok, prompts, p, seeds=seeds))
                    outs[m], n = rs, sum(len(r.response_ids) for r in rs)
                runs[m].append((n / dt, n, dt))
            other = "sample" if "sample" in outs else "unshared"
            if other in outs and "fast" in outs:
                same = sum(a.response_ids == b.response_ids for a, b in zip(outs[other], outs["fast"]))
        table[B] = {m: dict(tok_s=statistics.median(r[0] for r in rs), tokens=rs[0][1],
                            seconds=statistics.median(r[2] for r in rs)) for m, rs in runs.items()}
        table[B]["identical"] = same
        table[B]["identical_to"] = "unshared" if "unshared" in runs else "sample"
        print_row(B, table[B], len(prompts))
    return table


@contextlib.contextmanager
def unshared_prefill():
    """The fast path with ``share_prompts=False`` in its prefill."""
    decode = fast_mod.decode_batch
    fast_mod.decode_batch = lambda *a, **k: decode(*a, **k, share_prompts=False)
    try:
        yield
    finally:
        fast_mod.decode_batch = decode


def print_row(B: int, row: dict, n_prompts: int) -> None:
    base = row.get("generate", row.get("unshared", {})).get("tok_s")
    for m in ("generate", "sample", "unshared", "fast"):
        if m in row:
            r = row[m]
            ratio = f"{r['tok_s'] / base:5.2f}x" if base else "   - "
            print(f"{B:>5}  {m:<9} {r['tok_s']:>9.0f} {ratio:>8} {r['tokens']:>8} {r['seconds']:>8.1f}", flush=True)
    if row.get("identical") is not None:
        print(f"{'':>5}  fast == {row['identical_to']} (same seeds): {row['identical']}/{n_prompts} identical responses",
              flush=True)


def allocator_table(args) -> dict:
    """The smallest batch size under each allocator, each in a fresh child process."""
    out = {}
    for name, env in ALLOCATORS.items():
        lib = env.get("LD_PRELOAD")
        if lib and not Path(lib).exists():
            print(f"  {name:<26} not installed ({lib})")
            continue
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--json", f.name, "--prompts",
                   str(min(args.batch)), "--batch", str(min(args.batch)), "--max-new-tokens", str(args.max_new_tokens),
                   "--temperature", str(args.temperature), "--top-p", str(args.top_p), "--rounds", str(args.rounds)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            subprocess.run(cmd, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
            row = json.loads(Path(f.name).read_text())["table"][str(min(args.batch))]
        out[name] = row
        print(f"  {name:<26} generate {row['generate']['tok_s']:>7.0f} tok/s   fast {row['fast']['tok_s']:>7.0f} tok/s",
              flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--group", type=int, default=0, help="each prompt G times: shared vs unshared prefill")
    ap.add_argument("--long", action="store_true", help="prompts from the long tier")
    ap.add_argument("--allocators", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as d:
        model, tok, prompts = build_model(Path(d), args.long)
        prompts = prompts[: args.prompts]
        if args.group:
            prompts = [p for p in prompts[: max(1, args.prompts // args.group)] for _ in range(args.group)]
        if not args.child:
            n_par = sum(p.numel() for p in model.parameters())
            print(f"tiny default: {n_par / 1e6:.2f}M parameters, {len(prompts)} prompts, max_new_tokens "
                  f"{args.max_new_tokens}, temperature {args.temperature}, top_p {args.top_p}, torch "
                  f"{torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} round(s)")
            print(f"{'batch':>5}  {'method':<9} {'tok/s':>9} {'vs base':>8} {'tokens':>8} {'seconds':>8}")
        methods = ("generate", "fast") if args.child else ("unshared", "fast") if args.group else \
            ("generate", "sample", "fast")
        table = bench(model, tok, prompts, args.batch, args, methods) if not args.child else \
            bench_quiet(model, tok, prompts, args, methods)
    result = {"table": table, "args": vars(args)}
    if args.allocators and not args.child:
        print(f"allocator (batch {min(args.batch)}, {min(args.batch)} prompts, fresh process each):")
        result["allocators"] = allocator_table(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


def bench_quiet(model, tok, prompts, args, methods) -> dict:
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return bench(model, tok, prompts, args.batch, args, methods)


if __name__ == "__main__":
    main()
