"""The fast decode path against the HF reference: logits, greedy and sampled tokens, stops, EOS."""
from dataclasses import replace
from unittest import mock

import pytest
import torch
from omegaconf import OmegaConf

from prmlab.models import build_tiny, load_policy, load_tokenizer
from prmlab.sampling import SamplingParams, row_seeds, sample
from prmlab.sampling import fast as fs
from prmlab.sampling import hf
from prmlab.sampling.noise import gumbel_at, gumbel_noise

BODY = "    total = 0\n    for x in xs:\n        if x > 3:\n            total += x\n    return total\n"
TEXTS = [f"# Sum the elements above {i}.\ndef f(xs):\n" + BODY.replace("3", str(i)) for i in range(60)]
# prompts of different lengths, so every batch is left-padded
PROMPTS = [TEXTS[i][: 12 + 9 * i] for i in range(10)] + ["# x\ndef g(a):\n", "def h(s):\n    "]


def _build(tmp_path_factory, arch, **extra):
    cfg = OmegaConf.create(dict(arch=arch, vocab_size=300, n_positions=256, n_embd=32, n_layer=2, n_head=4))
    path = build_tiny(cfg, TEXTS, tmp_path_factory.mktemp(arch), seed=0)
    tok, model = load_tokenizer(path), load_policy(path, torch.device("cpu")).eval()
    return tok, model


def _eos_prone(model, tok):
    """Raise the EOS logit by 2 (through the final LayerNorm's bias, along EOS's output row),
    so that EOS, stop strings and the length cap all end rows in a short decode."""
    w = model.get_output_embeddings().weight[tok.eos_token_id]
    with torch.no_grad():
        model.transformer.ln_f.bias += 2.0 * w / w.pow(2).sum()
    return model


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    tok, model = _build(tmp_path_factory, "gpt2")
    return tok, _eos_prone(model, tok)


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return _build(tmp_path_factory, "llama")


@pytest.fixture(scope="module")
def llama_gqa(gpt2):
    """A Llama with grouped-query attention (2 key/value heads for 4 query heads)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = gpt2[0]
    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      tie_word_embeddings=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
    return tok, LlamaForCausalLM(cfg).eval()


def _batch(tok, texts):
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    P = max(map(len, ids))
    input_ids = torch.full((len(ids), P), tok.eos_token_id)
    mask = torch.zeros((len(ids), P), dtype=torch.long)
    for b, x in enumerate(ids):
        input_ids[b, P - len(x):] = torch.tensor(x)
        mask[b, P - len(x):] = 1
    return input_ids, mask


@pytest.mark.parametrize("which", ["gpt2", "llama", "llama_gqa"])
def test_logits_match_the_hf_forward(which, request):
    tok, model = request.getfixturevalue(which)
    input_ids, mask = _batch(tok, PROMPTS)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        ref = model(input_ids=input_ids, attention_mask=mask, position_ids=pos).logits
    got = fs.logits(model, input_ids, mask)
    real = mask.bool()
    assert got.shape == ref.shape
    diff = (got[real] - ref[real]).abs().max().item()
    assert diff < 1e-4, diff  # same weights, different kernels: float rounding only
    assert (got[real].argmax(-1) == ref[real].argmax(-1)).all()


def fast_sample(model, tok, prompts, params, **kw):
    """``sample`` through the fast path, which must not fall back to the HF path."""
    assert fs.fast_lm(model) is not None
    with mock.patch.object(hf, "batch_decoder", side_effect=AssertionError("fell back to the HF path")):
        return sample(model, tok, prompts, replace(params, fast=True), **kw)


def _compare(tok, model, params, stops=None, seeds=None, prompts=PROMPTS):
    n = len(prompts)
    seeds = seeds if seeds is not None else row_seeds(3, n)
    kw = dict(stops=stops, problem_ids=[f"p{i}" for i in range(n)], seeds=seeds)
    ref = sample(model, tok, prompts, replace(params, fast=False), **kw)  # the HF reference path
    got = fast_sample(model, tok, prompts, params, **kw)
    via = sample(model, tok, prompts, params, **kw)  # sample takes the fast path by default
    assert params.fast and [v.response_ids for v in via] == [g.response_ids for g in got]
    for r, g in zip(ref, got):
        assert (g.problem_id, g.prompt_ids, g.response_ids) == (r.problem_id, r.prompt_ids, r.response_ids)
        assert (g.response, g.lines, g.line_end_tokens, g.finished) == (r.response, r.lines, r.line_end_tokens, r.finished)
        assert g.logprobs == pytest.approx(r.logprobs, abs=1e-4)
    return ref


@pytest.mark.parametrize("which", ["gpt2", "llama", "llama_gqa"])
def test_greedy_tokens_match_the_hf_path(which, request):
    tok, model = request.getfixturevalue(which)
    _compare(tok, model, SamplingParams(temperature=0.0, max_new_tokens=20, batch_size=5))


@pytest.mark.parametrize("which", ["gpt2", "llama"])
@pytest.mark.parametrize("top_k,top_p", [(0, 1.0), (0, 0.9), (12, 0.8)])
def test_sampled_tokens_match_the_hf_path_for_the_same_seeds(which, top_k, top_p, request):
    tok, model = request.getfixturevalue(which)
    params = SamplingParams(temperature=1.0, top_k=top_k, top_p=top_p, max_new_tokens=24, batch_size=7)
    rs = _compare(tok, model, params)
    assert len({tuple(r.response_ids) for r in rs}) > len(rs) // 2  # really sampled, not one greedy path


def _own_stops(responses):
    """Per row: a two-character ASCII piece of its own unconstrained response (so that the row
    surely meets it), a newline stop for every third row, none for the rest."""
    out = []
    for i, text in enumerate(responses):
        pieces = [text[j : j + 2] for j in range(2, len(text) - 1) if text[j : j + 2].isascii() and text[j : j + 2].isprintable()]
        out.append([pieces[0]] if i % 3 == 0 and pieces else ["\n ", "@@@"] if i % 3 == 1 else [])
    return out


def test_stops_eos_and_length_cap_all_occur_and_match(gpt2):
    """Per-problem stop strings, EOS and max_new_tokens each end some rows; compaction of the
    finished rows happens along the way; everything equals the reference path."""
    tok, model = gpt2
    prompts = PROMPTS * 4
    n = len(prompts)
    params = SamplingParams(temperature=1.0, max_new_tokens=32, batch_size=n)
    free = fast_sample(model, tok, prompts, params, seeds=row_seeds(3, n))
    stops = _own_stops([r.response for r in free])
    rs = _compare(tok, model, params, stops=stops, prompts=prompts)
    eos = tok.eos_token_id
    assert len(rs) == n
    by_eos = [r for r in rs if r.response_ids and r.response_ids[-1] == eos]
    by_stop = [r for r, f in zip(rs, free) if r.response_ids != f.response_ids]
    capped = [r for r in rs if not r.finished]
    assert len(by_eos) >= 4 and len(by_stop) >= 4 and len(capped) >= 4, (len(by_eos), len(by_stop), len(capped))
    assert len(by_eos) + len(by_stop) >= n // 4  # enough finished rows to trigger compaction
    for r, f, s in zip(rs, free, stops):
        assert not any(x in r.response for x in s)
        # a stop cuts the free response: the same tokens up to the one holding the stop's start
        assert f.response_ids[: len(r.response_ids)] == r.response_ids
        assert len(r.response_ids) <= 32


def test_compaction_does_not_change_samples(gpt2, monkeypatch):
    tok, model = gpt2
    prompts = PROMPTS * 2
    params = SamplingParams(temperature=1.0, max_new_tokens=24, batch_size=len(prompts))
    seeds = row_seeds(5, len(prompts))
    free = fast_sample(model, tok, prompts, params, seeds=seeds)
    kw = dict(stops=_own_stops([r.response for r in free]), seeds=seeds)
    a = fast_sample(model, tok, prompts, params, **kw)
    monkeypatch.setattr(fs, "COMPACT_BELOW", 0.0)  # never compact
    b = fast_sample(model, tok, prompts, params, **kw)
    assert [r.response_ids for r in a] == [r.response_ids for r in b]
    assert sum(r.finished for r in a) >= len(prompts) // 2


def test_token_id_prompts_and_batch_independence(gpt2):
    """Prompts given as token ids (PRM prefix checks) work, and a row's sample does not depend
    on the rows that share its batch."""
    tok, model = gpt2
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    params = SamplingParams(temperature=1.0, max_new_tokens=16, batch_size=12)
    a = fast_sample(model, tok, ids, params, seeds=list(range(12)))
    b = fast_sample(model, tok, ids[5:8], SamplingParams(temperature=1.0, max_new_tokens=16, batch_size=2),
                       seeds=[5, 6, 7])
    assert [r.response_ids for r in a[5:8]] == [r.response_ids for r in b]
    assert a[0].prompt_ids == ids[0]


def test_generator_draws_the_same_seeds_on_both_paths(gpt2):
    tok, model = gpt2
    params = SamplingParams(temperature=1.0, max_new_tokens=12, batch_size=12)
    ref = sample(model, tok, PROMPTS, replace(params, fast=False), generator=torch.Generator().manual_seed(11))
    got = fast_sample(model, tok, PROMPTS, params, generator=torch.Generator().manual_seed(11))
    assert [r.response_ids for r in got] == [r.response_ids for r in ref]


def test_gumbel_at_is_gumbel_noise_at_those_tokens():
    seeds = torch.tensor(row_seeds(2, 6))
    full = gumbel_noise(seeds, 4, 1000)
    assert torch.equal(gumbel_at(seeds, 4, torch.arange(1000)), full)
    idx = torch.randint(0, 1000, (6, 17), generator=torch.Generator().manual_seed(0))
    assert torch.equal(gumbel_at(seeds, 4, idx), full.gather(1, idx))


def test_choose_keeps_the_reference_filter_set():
    """Only tokens inside the HF path's top-k/top-p set are ever drawn, with the softmax frequencies."""
    logits = torch.log(torch.tensor([0.05, 0.5, 0.15, 0.3]))[None].repeat(4000, 1)
    seeds = torch.tensor(row_seeds(9, 4000))
    params = SamplingParams(temperature=1.0, top_p=0.7)
    draws = fs.choose(logits, params, seeds, 0, torch.arange(4))
    ref = (hf.filter_logits(logits, 0, 0.7) + gumbel_noise(seeds, 0, 4)).argmax(-1)
    assert torch.equal(draws, ref)
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    assert freq[[0, 2]].sum() == 0  # 0.5 + 0.3 >= 0.7: tokens 1 and 3 only
    assert freq[1].item() == pytest.approx(0.5 / 0.8, abs=0.03)


def test_unsupported_models_fall_back(gpt2, tmp_path):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

    tok = gpt2[0]
    neox = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                                            num_attention_heads=4, intermediate_size=64))
    dyn = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=4, rope_scaling={"rope_type": "dynamic", "factor": 2.0}))
    params = SamplingParams(max_new_tokens=4)
    for model in (neox, dyn, torch.nn.Linear(2, 2)):
        assert fs.fast_lm(model) is None
        assert fs.batch_decoder(model, tok, [[1, 2]], [()], params) is None
    for model in (neox, dyn):  # sample falls back to the HF path
        fell_back = sample(model, tok, ["def f():\n"], params, seeds=[4])
        assert fell_back == sample(model, tok, ["def f():\n"], replace(params, fast=False), seeds=[4])
    assert fs.fast_lm(gpt2[1]) is not None


def test_memory_aware_batch_shrinks_to_fit(gpt2):
    lm = fs.fast_lm(gpt2[1])
    # tiny GPT-2: 2 * layers * heads * length * head_dim float32 of cache + 4 vocab-sized float rows
    per_row = 2 * len(lm.layers) * lm.n_kv_head * 100 * lm.head_dim * 4 + 4 * lm.lm_head.shape[0] * 4
    assert fs.memory_aware_batch(lm, 64, 100, free_bytes=per_row * 20) == 10  # half of the free memory
    assert fs.memory_aware_batch(lm, 8, 100, free_bytes=per_row * 20) == 8  # the request fits
    assert fs.memory_aware_batch(lm, 8, 100, free_bytes=1) == 1  # never zero
    assert fs.memory_aware_batch(lm, 64, 100) == 64  # CPU: the request stands


@pytest.mark.parametrize("fast", [True, False])
def test_rows_stop_at_the_models_context(gpt2, fast):
    # n_positions = 256: prompts of 250 and 256 tokens get 6 and 0 new tokens, a short one the full
    # budget; the short row's sample is the one it gets alone (budgets split a batch, seeds are per row)
    tok, model = gpt2
    long_ids = (tok(TEXTS[0] * 10, add_special_tokens=False)["input_ids"] * 4)[:256]
    prompts = [long_ids[:250], long_ids, PROMPTS[3]]
    params = SamplingParams(max_new_tokens=40, temperature=1.0, fast=fast)
    seeds = row_seeds(5, 3)
    out = sample(model, tok, prompts, params, seeds=seeds)
    assert len(out[0].response_ids) <= 6 and out[1].response_ids == [] and not out[1].finished
    if len(out[0].response_ids) == 6 and out[0].response_ids[-1] != tok.eos_token_id:
        assert not out[0].finished
    alone = sample(model, tok, [PROMPTS[3]], params, seeds=seeds[2:])
    assert out[2].response_ids == alone[0].response_ids and len(out[2].response_ids) <= 40


@pytest.mark.parametrize("fast", [True, False])
def test_on_rollout_hands_over_each_row_once_with_its_final_rollout(gpt2, fast):
    """The overlap hook: every row reaches ``on_rollout`` exactly once, with the rollout the result
    holds; on the fast path the rows that end early arrive before decoding is over (here: before
    the rows that run to the length cap), on the HF path after their batch."""
    tok, model = gpt2
    prompts = PROMPTS * 3
    n = len(prompts)
    params = SamplingParams(temperature=1.0, max_new_tokens=32, batch_size=n, fast=fast)
    seeds = row_seeds(3, n)
    stops = _own_stops([r.response for r in sample(model, tok, prompts, params, seeds=seeds)])
    seen: list = []
    out = sample(model, tok, prompts, params, seeds=seeds, stops=stops, on_rollout=lambda i, r: seen.append((i, r)))
    assert sorted(i for i, _ in seen) == list(range(n))
    assert all(r is out[i] for i, r in seen)
    assert [r.response_ids for r in out] == [r.response_ids for r in sample(model, tok, prompts, params, seeds=seeds,
                                                                            stops=stops)]
    if fast:
        capped = [k for k, (i, r) in enumerate(seen) if not r.finished]
        early = [k for k, (i, r) in enumerate(seen) if r.finished]
        assert capped and early and max(early) < min(capped)


def test_shared_prefill_runs_each_prompt_once_and_samples_the_same(gpt2, monkeypatch):
    """Groups of rows with one prompt (as an RL step and the evaluation sample them) prefill each
    distinct prompt once, and give the same tokens and log-probs as prefilling every row."""
    tok, model = gpt2
    prompts = [p for p in PROMPTS for _ in range(4)]
    params = SamplingParams(temperature=1.0, max_new_tokens=24, batch_size=len(prompts))
    seeds = row_seeds(7, len(prompts))
    prefill_rows, forward, decode = [], fs.forward, fs.decode_batch

    def counting(lm, ids, *a, **k):
        if ids.shape[1] > 1:
            prefill_rows.append(ids.shape[0])
        return forward(lm, ids, *a, **k)

    monkeypatch.setattr(fs, "forward", counting)
    shared = fast_sample(model, tok, prompts, params, seeds=seeds)
    assert sum(prefill_rows) == len(PROMPTS)
    prefill_rows.clear()
    monkeypatch.setattr(fs, "decode_batch", lambda *a, **k: decode(*a, **k, share_prompts=False))
    every = fast_sample(model, tok, prompts, params, seeds=seeds)
    assert sum(prefill_rows) == len(prompts)
    assert [r.response_ids for r in shared] == [r.response_ids for r in every]
    assert len({tuple(r.response_ids) for r in shared}) > len(PROMPTS)  # a group's rows differ
    for a, b in zip(shared, every):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)
