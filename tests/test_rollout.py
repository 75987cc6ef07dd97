"""Line-end token mapping with a newline-merging BPE tokenizer, and sampling from a real model."""
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from prmlab.models import build_tiny, load_policy, load_tokenizer
from prmlab.sampling import SamplingParams, line_end_tokens, row_seeds, sample, split_lines, token_char_ends
from prmlab.sampling.hf import filter_logits
from prmlab.sampling.noise import gumbel_noise

BODY = "    total = 0\n    for x in xs:\n        if x > 3:\n            total += x\n    return total\n"
TEXTS = [f"# Sum the elements above {i}.\ndef f(xs):\n" + BODY.replace("3", str(i)) for i in range(60)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = OmegaConf.create(dict(arch="gpt2", vocab_size=300, n_positions=256, n_embd=32, n_layer=1, n_head=2))
    path = build_tiny(cfg, TEXTS, tmp_path_factory.mktemp("tiny"), seed=0)
    return load_tokenizer(path), load_policy(path, torch.device("cpu")), path


def test_tokenizer_merges_newlines(tiny):
    tok, _, _ = tiny
    pieces = [tok.decode([i]) for i in tok(BODY)["input_ids"]]
    assert any("\n" in p and len(p) > 1 for p in pieces), pieces  # e.g. "\n   " is one token


def test_line_end_tokens_cover_each_newline(tiny):
    tok, _, _ = tiny
    ids = tok(BODY)["input_ids"]
    ends = token_char_ends(tok, ids)
    le = line_end_tokens(BODY, ends)
    assert len(le) == len(split_lines(BODY)) == 5
    starts = [0] + ends[:-1]
    pos = 0
    for line, t in zip(split_lines(BODY), le):
        nl = pos + len(line)
        assert starts[t] <= nl < ends[t], (line, t)  # token t's span covers this line's "\n"
        assert "\n" in tok.decode([ids[t]])
        pos = nl + 1
    assert le == sorted(le) and len(set(le)) == len(le)


def test_unterminated_last_line_ends_at_last_token():
    # char ends of 4 tokens: "ab" "\nc" "d" "e"  -> text "ab\ncde"
    assert line_end_tokens("ab\ncde", [2, 4, 5, 6]) == [1, 3]
    assert line_end_tokens("ab\n", [2, 3]) == [1]
    assert split_lines("a\n\nb\n") == ["a", "", "b"]


def test_top_k_top_p_filter():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(filter_logits(logits, 0, 0.7))
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 < 0.7, 0.5 + 0.3 >= 0.7
    assert torch.isfinite(filter_logits(logits, 1, 1.0)).tolist() == [[True, False, False, False]]


def test_sample_rollouts_are_consistent(tiny):
    tok, model, _ = tiny
    prompts = [TEXTS[0].split("    ")[0]] * 6 + ["# x\ndef g(a):\n"] * 2
    params = SamplingParams(temperature=1.0, max_new_tokens=24, batch_size=5)
    gen = torch.Generator().manual_seed(0)
    rs = sample(model, tok, prompts, params, stops=[["\ndef "]] * 8, problem_ids=[str(i) for i in range(8)], generator=gen)
    assert [r.problem_id for r in rs] == [str(i) for i in range(8)]
    for r in rs:
        assert 1 <= len(r.response_ids) <= 24 and len(r.logprobs) == len(r.response_ids)
        assert all(lp <= 0 for lp in r.logprobs)
        assert r.lines == split_lines(r.response)
        assert len(r.line_end_tokens) == len(r.lines)
        assert all(0 <= t < len(r.response_ids) for t in r.line_end_tokens)
        assert "\ndef " not in r.response
    # the same seed gives the same samples
    rs2 = sample(model, tok, prompts, params, stops=[["\ndef "]] * 8, generator=torch.Generator().manual_seed(0))
    assert [r.response_ids for r in rs] == [r.response_ids for r in rs2]


def test_greedy_sampling_matches_full_forward(tiny):
    """The KV-cache decode loop and a plain forward pass agree on logits (greedy continuation)."""
    tok, model, _ = tiny
    prompt = TEXTS[3][:30]
    r = sample(model, tok, [prompt, "# pad\n" + prompt], SamplingParams(temperature=0.0, max_new_tokens=12))[0]
    ids = tok(prompt)["input_ids"]
    with torch.no_grad():
        for t in r.response_ids:
            nxt = int(model(torch.tensor([ids])).logits[0, -1].argmax())
            assert nxt == t
            if t == tok.eos_token_id:
                break
            ids.append(nxt)


def test_hf_checkpoint_loads_through_the_same_code(tiny, tmp_path):
    """``model=hf model.path=DIR``: any saved checkpoint loads with from_pretrained."""
    tok, model, path = tiny
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    tok2, m2 = load_tokenizer(tmp_path), load_policy(tmp_path, torch.device("cpu"))
    x = torch.tensor([tok2("def f(xs):")["input_ids"]])
    assert torch.allclose(model(x).logits, m2(x).logits)


def test_gpt2_loads_with_the_fused_tanh_gelu(tiny):
    """load_policy swaps GPT-2's op-by-op ``gelu_new`` for the fused kernel of the same function."""
    from transformers import AutoModelForCausalLM

    tok, model, path = tiny
    assert model.config.activation_function == "gelu_pytorch_tanh"
    reference = AutoModelForCausalLM.from_pretrained(str(path))
    assert reference.config.activation_function == "gelu_new"
    x = torch.tensor([tok("def f(xs):\n    total = 0")["input_ids"]])
    assert torch.allclose(model(x).logits, reference(x).logits, atol=1e-5)


def test_gumbel_noise_is_gumbel_and_counter_based():
    seeds = torch.tensor(row_seeds(7, 4))
    g = gumbel_noise(seeds, 3, 5000)
    assert torch.equal(g, gumbel_noise(seeds, 3, 5000))  # pure function of (seed, step, token)
    assert not torch.equal(g[0], g[1]) and not torch.equal(g, gumbel_noise(seeds, 4, 5000))
    assert torch.equal(g[2], gumbel_noise(seeds[2:3], 3, 5000)[0])  # independent of the batch
    # Gumbel(0,1): mean = Euler-Mascheroni constant 0.5772, variance pi^2/6
    assert g.mean().item() == pytest.approx(0.5772, abs=0.03)
    assert g.var().item() == pytest.approx(3.14159 ** 2 / 6, abs=0.08)


def test_gumbel_sampling_matches_the_softmax():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    seeds = torch.tensor(row_seeds(1, 20000))
    draws = (probs.log()[None] + gumbel_noise(seeds, 0, 4)).argmax(-1)
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    assert torch.allclose(freq, probs, atol=0.015)


def test_samples_do_not_depend_on_batch_composition(tiny):
    tok, model, _ = tiny
    prompts = [TEXTS[i][:40] for i in range(6)]
    params = SamplingParams(temperature=1.0, max_new_tokens=16, batch_size=6)
    a = sample(model, tok, prompts, params, seeds=list(range(6)))
    b = sample(model, tok, prompts[3:], SamplingParams(temperature=1.0, max_new_tokens=16, batch_size=2), seeds=[3, 4, 5])
    assert [r.response_ids for r in a[3:]] == [r.response_ids for r in b]


def test_value_init_copies_the_prm_weights_into_the_critic(tiny, tmp_path):
    """ValueInit: PPO's critic is the PRM (backbone and head), not a fresh head on the SFT policy."""
    from prmlab.models import ScalarHeadModel
    from prmlab.prm.use import make_critic

    _, _, sft = tiny
    prm = ScalarHeadModel.from_causal_lm(sft, torch.device("cpu"))
    with torch.no_grad():  # make the PRM differ from the SFT backbone and from a zero head
        for p in prm.parameters():
            p.add_(0.01 * torch.randn_like(p))
    prm.save(tmp_path / "prm")
    critic = make_critic(sft, tmp_path / "prm", torch.device("cpu"), torch.float32)
    ref = prm.state_dict()
    assert set(critic.state_dict()) == set(ref)
    for name, w in critic.state_dict().items():
        assert torch.equal(w, ref[name]), name
    fresh = make_critic(sft, None, torch.device("cpu"), torch.float32)
    assert torch.count_nonzero(fresh.head.weight) == 0  # without ValueInit: a zero head on SFT
