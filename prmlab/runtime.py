"""Per-run settings that do not change results (so they are not in any cache key): the torch
device and dtype, the sandbox pool (started once, shared by every stage of the run), progress
bars, CPU threads, the decode loop (``sampler``: the fast path and the HF reference give the
same samples for the same seeds) and ``overlap`` (sampled responses execute in the sandbox while
the rest of their batch decodes: same verdicts).

Not in any cache key, but not without effect either: a run is bitwise reproducible for a given
config, seed *and* torch thread count (and device, dtype, world size); another thread count rounds
reductions differently, and over many steps that is a fresh draw. So every cache entry records what
computed it (``numerics()``, the manifest's ``computed_with``), the run summary prints it and the
report flags a sweep whose entries disagree."""
from __future__ import annotations

import contextlib
import logging
import sys

import torch

from prmlab.models import resolve_device, resolve_dtype

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, cfg):
        import transformers

        transformers.utils.logging.disable_progress_bar()  # our own bars say what is happening
        transformers.utils.logging.set_verbosity_error()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        self.dtype, self.amp_dtype = resolve_dtype(cfg.model.dtype, self.device)
        self.show_progress = bool(cfg.progress)
        self.fast_sampler = cfg.sampler == "fast"
        self.overlap = bool(cfg.overlap)
        self._sandbox_cfg = cfg.sandbox
        self._sandbox = None
        log.info("device %s, dtype %s%s, torch threads %d", self.device, self.dtype,
                 f" + {self.amp_dtype} autocast" if self.amp_dtype else "", torch.get_num_threads())

    def numerics(self) -> dict:
        """What decides a computation's float rounding besides its config (module docstring)."""
        from prmlab import distributed as D

        return {"device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
                "amp_dtype": str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else None,
                "torch_threads": torch.get_num_threads(), "world_size": D.world(), "torch": torch.__version__}

    def autocast(self):
        """Mixed precision for a whole stage (forward passes of sampling and training; the losses
        that need fp32 are computed in fp32 by autocast's own op lists)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @property
    def sandbox(self):
        if self._sandbox is None:
            from omegaconf import OmegaConf

            from prmlab.sandbox import Sandbox, SandboxConfig

            cfg = self._sandbox_cfg
            if not isinstance(cfg, SandboxConfig):
                cfg = SandboxConfig(**OmegaConf.to_container(cfg, resolve=True))
            self._sandbox = Sandbox(cfg)
            log.info("sandbox isolation: %s", self._sandbox.isolation)
        return self._sandbox

    def execution(self):
        """A sandbox ``Stream`` for one batch of samples: ``sample(..., on_rollout=)`` hands each
        response in as soon as it is decoded (``overlap``), ``verdicts()`` collects them."""
        return self.sandbox.stream(overlap=self.overlap)

    def progress(self, total: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not self.show_progress, file=sys.stderr, leave=False,
                    dynamic_ncols=True)

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
