"""The GPU path's precision and device choices; the CUDA runs are marked ``gpu`` (run with
``pytest -m gpu`` on a machine with a GPU; skipped without one)."""
import json

import pytest
import torch

from prmlab.models import resolve_dtype
from test_smoke import run_prmlab


def test_resolve_dtype_keeps_fp32_weights_under_autocast():
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) == (torch.float32, None)  # CPU: plain fp32
    assert resolve_dtype("amp_bf16", cpu) == (torch.float32, torch.bfloat16)  # master weights stay fp32
    assert resolve_dtype("bfloat16", cpu) == (torch.bfloat16, None)
    assert resolve_dtype("float32", cpu) == (torch.float32, None)


def test_mixed_precision_path_runs_end_to_end_on_cpu(tmp_path):
    """``model.dtype=amp_bf16`` is the GPU default's code path (fp32 weights, bf16 autocast around
    every stage), run here under CPU autocast: SFT, GRPO, sampling and evaluation all go through it."""
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", "algo=grpo", "model.dtype=amp_bf16",
                   "algo.steps=1", "algo.n_checkpoints=1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "torch.bfloat16 autocast" in r.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert 0.0 <= summary["eval/pass@1"] <= 1.0
    ckpt = next((tmp_path / "cache" / "rl_baseline").glob("*/policy"))
    from prmlab.models import load_policy

    assert next(load_policy(ckpt, torch.device("cpu"), torch.float32).parameters()).dtype == torch.float32


@pytest.mark.gpu
def test_cuda_smoke_run_uses_bf16_autocast(tmp_path):
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", "algo=grpo", "device=cuda", "algo.steps=2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "device cuda" in r.stderr
    if torch.cuda.is_bf16_supported():
        assert "torch.bfloat16 autocast" in r.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["eval/pass@1"] >= 0.0
