"""Building and loading policies, value models and PRMs, and their tokenizers.

* ``model=tiny`` (default): a byte-level BPE tokenizer trained on the task suite's own text and a
  ~1M-parameter GPT-2 (or Llama) config with dropout 0 and a fast GELU, built from
  ``transformers``/``tokenizers`` classes and saved with ``save_pretrained``. Every later stage
  loads it with ``from_pretrained``, exactly as it would load any local checkpoint.
* ``model=hf model.path=DIR``: any local Hugging Face causal LM + tokenizer; nothing is downloaded.
* ``ScalarHeadModel``: backbone + linear head giving one scalar per position. It is the PPO
  critic and the PRM (the PRM paper initialises the PRM from the baseline's value model, and
  ValueInit initialises the critic from the PRM, so both share one class and one file layout).
"""
from __future__ import annotations

import functools
import inspect
import json
import logging
import os
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from prmlab.errors import PrmlabError

log = logging.getLogger(__name__)

EOS = "<|endoftext|>"
HEAD_FILE = "scalar_head.pt"


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when present (the rank's own GPU under torchrun), else CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise PrmlabError("device: 'cuda' requested but no CUDA device is available (use device=auto or cpu)")
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}")
    return torch.device("cpu")


def resolve_dtype(name: str, device: torch.device) -> tuple[torch.dtype, Optional[torch.dtype]]:
    """(parameter dtype, autocast dtype or None) for ``model.dtype``.

    * ``auto``: fp32 weights with bf16 autocast on a CUDA device that supports bf16 (mixed precision:
      optimiser updates stay in fp32, matmuls run in bf16), plain fp32 elsewhere;
    * ``amp_bf16``: the same mixed precision on any device (CPU autocast too, so the path is testable
      without a GPU);
    * ``float32`` / ``bfloat16`` / ``float16``: weights in that dtype, no autocast."""
    if name == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.float32, (torch.bfloat16 if cuda_bf16 else None)
    if name == "amp_bf16":
        return torch.float32, torch.bfloat16
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name], None


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE trained on ``texts``; whitespace runs (newline + indentation) merge into
    single tokens, which is why line ends are mapped through character offsets (prmlab/sampling/lines.py)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS, unk_token=EOS)


def build_tiny(model_cfg, texts: list[str], out_dir: Path, seed: int) -> Path:
    """Train the tokenizer on ``texts``, initialise the tiny LM with ``seed``, save both."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(texts, model_cfg.vocab_size)
    torch.manual_seed(seed)
    common = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.eos_token_id)
    if model_cfg.arch == "gpt2":
        config = GPT2Config(n_positions=model_cfg.n_positions, n_embd=model_cfg.n_embd, n_layer=model_cfg.n_layer,
                            n_head=model_cfg.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                            activation_function="gelu_new", **common)
        model = GPT2LMHeadModel(config)
    elif model_cfg.arch == "llama":
        config = LlamaConfig(hidden_size=model_cfg.n_embd, intermediate_size=3 * model_cfg.n_embd,
                             num_hidden_layers=model_cfg.n_layer, num_attention_heads=model_cfg.n_head,
                             num_key_value_heads=model_cfg.n_head, max_position_embeddings=model_cfg.n_positions,
                             tie_word_embeddings=True, attention_dropout=0.0, **common)
        model = LlamaForCausalLM(config)
    else:
        raise PrmlabError(f"model.arch: unknown tiny architecture {model_cfg.arch!r}; expected gpt2 or llama")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    n = sum(p.numel() for p in model.parameters())
    log.info("built tiny %s: %.2fM parameters, vocab %d", model_cfg.arch, n / 1e6, len(tokenizer))
    return out_dir


def check_checkpoint(path: str | os.PathLike, what: str = "model.path") -> Path:
    p = Path(path)
    if not p.is_dir():
        raise PrmlabError(f"{what}: checkpoint directory not found: {p}")
    if not (p / "config.json").is_file():
        raise PrmlabError(f"{what}: {p} is not a Hugging Face checkpoint (no config.json)")
    return p


def load_tokenizer(path: str | os.PathLike):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(check_checkpoint(path)))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def _fused_activation(path: Path) -> dict:
    """GPT-2's ``gelu_new`` is the tanh-approximate GELU written as ~8 elementwise torch ops; PyTorch's
    ``gelu(approximate="tanh")`` (``gelu_pytorch_tanh``) is the same function in one fused kernel
    (outputs agree to ~2e-7). Loading with it makes the tiny model's RL forward+backward, dominated
    by memory-bound elementwise work on CPU, markedly faster. Other architectures load unchanged."""
    try:
        cfg = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    if cfg.get("model_type") == "gpt2" and cfg.get("activation_function") == "gelu_new":
        return {"activation_function": "gelu_pytorch_tanh"}
    return {}


def load_policy(path: str | os.PathLike, device: torch.device, dtype: torch.dtype = torch.float32):
    from transformers import AutoModelForCausalLM

    path = check_checkpoint(path)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, **_fused_activation(path))
    return model.to(device)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@functools.lru_cache(maxsize=None)
def _cache_keyword(cls: type) -> Optional[str]:
    params = inspect.signature(cls.forward).parameters
    return next((name for name in ("cache", "past_key_values") if name in params), None)


def cache_keyword(model: nn.Module) -> Optional[str]:
    """The keyword by which ``model``'s forward takes a HF cache of earlier columns' keys and
    values, and the name of its output's cache field: ``cache`` in transformers >= 5.2x
    (``past_key_values`` is deprecated there), ``past_key_values`` before; None if it takes none."""
    return _cache_keyword(type(model))


class ScalarHeadModel(nn.Module):
    """A causal-LM backbone with a linear head: ``forward(input_ids, attention_mask) -> [B, L]``.

    Used as the PPO critic and as the PRM. Saved as a HF backbone dir plus ``scalar_head.pt``.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.config.hidden_size, 1)
        nn.init.zeros_(self.head.weight)  # start as a constant 0 predictor: no random value noise
        nn.init.zeros_(self.head.bias)

    @property
    def config(self):
        return self.backbone.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: Optional[torch.Tensor] = None,
                cache=None) -> torch.Tensor:
        """Values at every column of ``input_ids``. ``cache``: a HF cache holding the keys and
        values of earlier columns (``attention_mask`` then covers those columns too, and
        ``position_ids`` only the new ones), as ``prmlab.algos.core.response_outputs`` runs it."""
        if position_ids is None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        extra = {} if cache is None else {cache_keyword(self.backbone): cache, "use_cache": True}
        h = self.backbone(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                          **extra).last_hidden_state
        return self.head(h.to(self.head.weight.dtype)).squeeze(-1)  # [B, L]

    @classmethod
    def from_causal_lm(cls, path: str | os.PathLike, device: torch.device, dtype=torch.float32) -> "ScalarHeadModel":
        """A fresh head on the backbone of a causal-LM checkpoint (e.g. the SFT policy)."""
        from transformers import AutoModel

        path = check_checkpoint(path)
        backbone = AutoModel.from_pretrained(str(path), dtype=dtype, **_fused_activation(path))
        return cls(backbone).to(device)

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device, dtype=torch.float32) -> "ScalarHeadModel":
        path = check_checkpoint(path, "scalar-head model")
        model = cls.from_causal_lm(path, device, dtype)
        head = path / HEAD_FILE
        if not head.is_file():
            raise PrmlabError(f"{path}: missing {HEAD_FILE} (not a prmlab value model / PRM directory)")
        model.head.load_state_dict(torch.load(head, map_location=device))
        return model

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(path)
        torch.save(self.head.state_dict(), path / HEAD_FILE)
