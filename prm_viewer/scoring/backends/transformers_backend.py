"""``transformers`` backend: CPU or GPU, length-bucketed batches under a token budget.

Hot path per batch: one padded forward pass of the model BODY under ``torch.inference_mode``,
one gather of the hidden states at every scored position of every trace (a single indexing op),
then the head on those rows only. Applying the head only where a score is read matters for
causal LMs: the vocabulary projection of every token would cost more than the body on a small
model and is discarded anyway. Right padding keeps positions unchanged (causal attention).

Shared prefixes (``prefix_sharing``, on unless turned off; see ``prefix.py``): traces of a batch
that start with the same tokens form groups; a group's prefix runs once (``use_cache``), and each
member's continuation runs against a copy of its group's keys and values, with position ids that
continue after its own prefix and the padded prefix slots masked. A load-time probe compares
shared and unshared outputs on a made-up batch and keeps sharing off for a model that differs.

Execution per unit (``planner.py``): each length bucket runs per trace (no padding, no mask) or
as one padded batch, and each chunk of prefix groups shared or unshared, whichever the cost model
calibrated by timing the first units predicts faster (backend option ``execution`` = ``auto`` |
``per-trace`` | ``batched`` | ``shared`` forces one). ``bfloat16`` on a CPU without native bf16
matmul (no AVX-512 BF16 / AMX, where torch falls back to kernels slower than float32) keeps the
bf16-rounded weights and computes in float32 (``compute_dtype``); scores stay within bf16
rounding of float32 either way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from prm_viewer.errors import MissingDependency, RecipeError
from prm_viewer.scoring.backends.base import Backend, Loaded, RunSpec, buckets
from prm_viewer.scoring.backends.lm import LM_KIND
from prm_viewer.scoring.backends.planner import ARMS, Planner, Shape, forward_flops
from prm_viewer.scoring.backends.prefix import Group, share_groups
from prm_viewer.scoring.backends.torch_device import (
    DTYPES,
    context_length,
    free_memory,
    resolve,
    resolve_batch_tokens,
    resolve_device,
    resolve_dtype,
)
from prm_viewer.scoring.recipes.base import EncodedTrace


def _model_class(spec: RunSpec) -> Any:
    from transformers import AutoModelForCausalLM, AutoModelForTokenClassification

    archs = spec.model_checkpoint().architectures
    if "Qwen2ForProcessRewardModel" in archs and not spec.trust_remote_code:
        from prm_viewer.scoring.qwen2_prm import Qwen2ForProcessRewardModel

        return Qwen2ForProcessRewardModel
    kind = spec.prepared.recipe.model_kind
    return {"token-classification": AutoModelForTokenClassification, "causal-lm": AutoModelForCausalLM}[kind]


def _head(model: Any, kind: str) -> Any:
    if kind == "causal-lm":
        return model.get_output_embeddings()
    for name in ("score", "classifier"):
        head = getattr(model, name, None)
        if head is not None:
            return head
    raise RecipeError(f"{type(model).__name__} has no classification head (score/classifier) to read")


class TransformersRunner:
    """A loaded model; see ``backends/base.py`` for the contract."""

    def __init__(self, spec: RunSpec) -> None:
        try:
            import torch
        except ImportError:
            raise MissingDependency("torch", "pip install torch==2.13.0", "the transformers backend") from None
        self.torch = torch
        self.device: str = resolve_device(spec.device)
        self.dtype: str = resolve_dtype(spec.dtype, self.device)
        self.kind = spec.prepared.recipe.model_kind
        self.batch_tokens = resolve_batch_tokens(spec.batch_tokens, self.device)
        self.compute_dtype = self.dtype
        if self.dtype == "bfloat16" and self.device == "cpu" and not native_cpu_bf16():
            self.compute_dtype = "float32"
        ckpt = spec.model_checkpoint()
        cls = _model_class(spec)
        try:
            model, info = cls.from_pretrained(
                str(ckpt.path), dtype=getattr(torch, self.compute_dtype), trust_remote_code=spec.trust_remote_code,
                output_loading_info=True,
            )
        except Exception as exc:  # torn/corrupt files raise many types (SafetensorError, OSError...)
            if isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__:
                raise
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise RecipeError(
                f"checkpoint '{ckpt.ref}': cannot load the model weights ({type(exc).__name__}: {msg[:300]})"
            ) from None
        missing = [k for k in info.get("missing_keys", []) if not k.startswith("lm_head.")]
        if missing:
            # Random weights where trained ones were expected would give plausible-looking, wrong
            # scores: refuse instead.
            raise RecipeError(
                f"checkpoint '{ckpt.ref}': weights missing for {len(missing)} parameters "
                f"(e.g. {', '.join(sorted(missing)[:3])}); is it the right architecture/recipe?"
            )
        if self.compute_dtype != self.dtype:  # bf16 weights, float32 arithmetic
            with torch.no_grad():
                for param in model.parameters():
                    param.copy_(param.to(getattr(torch, self.dtype)).to(param.dtype))
        self.model: Any = model.to(self.device).eval()  # a transformers PreTrainedModel
        self.body = self.model.base_model
        self.head = _head(self.model, self.kind)
        returned = spec.prepared.returned_token_ids
        self.returned = torch.tensor(returned, device=self.device) if (returned and self.kind == "causal-lm") else None
        tok = spec.prepared.tokenizer
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0))
        self.max_length: int | None = spec.max_length or context_length(self.model.config, tok)
        cfg = self.model.config
        window = getattr(cfg, "sliding_window", None)
        self.window = int(window) if window and getattr(cfg, "use_sliding_window", True) else None
        mode = (spec.options or {}).get("prefix_sharing", "auto")
        if isinstance(mode, bool):  # `--backend-option prefix_sharing=false` arrives as JSON false
            mode = "auto" if mode else "off"
        mode = str(mode).lower()
        if mode not in ("auto", "off"):
            raise RecipeError(f"backend option prefix_sharing='{mode}': choose auto or off")
        execution = str((spec.options or {}).get("execution", "auto")).lower()
        if execution not in ("auto", *ARMS):
            raise RecipeError(f"backend option execution='{execution}': choose auto, {', '.join(ARMS)}")
        self.shape = _shape(torch, self.body, cfg)
        self.plain_planner = Planner(forced=execution if execution in ("per-trace", "batched") else None)
        """Per length bucket: per-trace or batched."""
        self.group_planner = Planner(forced="shared" if execution == "shared" else None)
        """Per chunk of prefix groups: shared or unshared."""
        self.prefix_sharing = False
        if mode == "auto" and execution in ("auto", "shared"):
            self.prefix_sharing = self._probe_sharing()

    def run(self, batch: Sequence[EncodedTrace]) -> list[np.ndarray]:
        out: list[np.ndarray] = [np.zeros((0, 0))] * len(batch)
        groups = self._groups(batch)
        grouped = {i for g in groups for i in g.members}
        self._run_plain(batch, [i for i in range(len(batch)) if i not in grouped], out)
        if groups:
            self._run_groups(batch, groups, out)
        return out

    def _run_groups(self, batch: Sequence[EncodedTrace], groups: Sequence[Group], out: list[np.ndarray]) -> None:
        """Chunks of groups (as many shared prefixes as fit the budget), each shared or unshared
        as the group planner decides."""
        shared = np.array([g.shared for g in groups], dtype=np.int64)
        for chunk in buckets(shared, self.batch_tokens):
            gs = [groups[int(c)] for c in chunk]
            members = [i for g in gs for i in g.members]
            width = int(shared[chunk].max())
            costs = {
                "shared": forward_flops(self.shape, [(width, 0)] * len(gs)) + forward_flops(
                    self.shape, [(len(batch[i].input_ids) - g.shared, width) for g in gs for i in g.members]),
                "unshared": forward_flops(self.shape, [(len(batch[i].input_ids), 0) for i in members]),
            }
            arm = self.group_planner.pick(costs)
            t0 = time.perf_counter()
            if arm == "shared":
                self._run_shared(batch, gs, out)
            else:
                self._run_plain(batch, members, out)
            self.group_planner.record(arm, costs[arm], time.perf_counter() - t0)

    def _groups(self, batch: Sequence[EncodedTrace]) -> list[Group]:
        if not self.prefix_sharing or len(batch) < 2:
            return []
        if self.window is not None and 2 * max(len(e.input_ids) for e in batch) > self.window:
            return []  # padded prefixes shift cache distances: keep clear of the sliding window
        limits = [min(min(e.positions), len(e.input_ids) - 1) if len(e.positions) else -1 for e in batch]
        return share_groups([e.input_ids for e in batch], limits)

    def _read_into(self, hidden: Any, rows: Sequence[EncodedTrace], targets: np.ndarray, out: list[np.ndarray],
                   starts: np.ndarray | None = None) -> None:
        """The recipe's rows: the head applied to the hidden states at each row's scored positions
        only (shifted left by ``starts`` where a row is a continuation), into ``out[targets[r]]``."""
        torch = self.torch
        n_pos = np.fromiter((len(r.positions) for r in rows), dtype=np.int64, count=len(rows))
        rows_b = np.repeat(np.arange(len(rows)), n_pos)
        rows_p = np.concatenate([np.asarray(r.positions, dtype=np.int64) for r in rows])
        if starts is not None:
            rows_p -= np.repeat(starts, n_pos)
        sel = hidden[torch.from_numpy(rows_b).to(self.device), torch.from_numpy(rows_p).to(self.device)]
        logits = self.head(sel)
        if self.returned is not None:
            logits = logits.index_select(-1, self.returned)
        flat = logits.float().cpu().numpy()
        for i, part in zip(targets, np.split(flat, np.cumsum(n_pos)[:-1])):
            out[int(i)] = part

    def _padded(self, seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Right-padded id matrix and its mask, built with numpy (no per-token Python work)."""
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        ids = np.full((len(seqs), int(lengths.max())), self.pad_id, dtype=np.int64)
        mask = np.arange(ids.shape[1])[None, :] < lengths[:, None]
        ids[mask] = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
        return ids, mask

    def _run_plain(self, batch: Sequence[EncodedTrace], which: Sequence[int], out: list[np.ndarray],
                   arm: str | None = None) -> None:
        """Length buckets of ``which``, each per trace or batched (``arm``, else the plain planner)."""
        if not len(which):
            return
        idx = np.asarray(which, dtype=np.int64)
        lengths = np.fromiter((len(batch[int(i)].input_ids) for i in idx), dtype=np.int64, count=len(idx))
        for group in buckets(lengths, self.batch_tokens):
            members = [batch[int(i)] for i in idx[group]]
            glen = lengths[group]
            if int(glen.min()) == int(glen.max()):  # no padding: one batch, no mask, nothing to choose
                self._forward(members, idx[group], out, padded=False)
                continue
            costs = {"per-trace": forward_flops(self.shape, [(int(n), 0) for n in glen]),
                     "batched": forward_flops(self.shape, [(int(glen.max()), 0)] * len(glen))}
            chosen = arm or self.plain_planner.pick(costs)
            t0 = time.perf_counter()
            if chosen == "per-trace":
                for m, target in zip(members, idx[group]):
                    self._forward([m], np.array([target]), out, padded=False)
            else:
                self._forward(members, idx[group], out, padded=True)
            if arm is None:
                self.plain_planner.record(chosen, costs[chosen], time.perf_counter() - t0)

    def _forward(self, members: Sequence[EncodedTrace], targets: np.ndarray, out: list[np.ndarray],
                 padded: bool) -> None:
        """One forward pass of the body over ``members`` (right-padded with a mask when
        ``padded``, else all of one length and no mask: the causal fast path), head at the
        scored positions."""
        torch = self.torch
        ids, mask = self._padded([m.input_ids for m in members])
        with torch.inference_mode():
            attn = torch.from_numpy(mask.astype(np.int64)).to(self.device) if padded and not mask.all() else None
            hidden = self.body(input_ids=torch.from_numpy(ids).to(self.device), attention_mask=attn).last_hidden_state
            self._read_into(hidden, members, targets, out)

    def _run_shared(self, batch: Sequence[EncodedTrace], groups: Sequence[Group], out: list[np.ndarray]) -> None:
        """Each group's shared prefix once (keys and values kept), then every member's continuation
        against its group's cache. Prefixes are right-padded in a batch of groups: the padded cache
        slots are masked out and each continuation's positions start at its own prefix length."""
        torch = self.torch
        from transformers import DynamicCache

        shared = np.array([g.shared for g in groups], dtype=np.int64)
        for chunk in buckets(shared, self.batch_tokens):
            gs = [groups[int(c)] for c in chunk]
            pre_ids, pre_mask = self._padded([batch[g.members[0]].input_ids[:g.shared] for g in gs])
            with torch.inference_mode():
                cache = self.body(input_ids=torch.from_numpy(pre_ids).to(self.device),
                                  attention_mask=torch.from_numpy(pre_mask.astype(np.int64)).to(self.device),
                                  use_cache=True).past_key_values
            kv = [(layer.keys, layer.values) for layer in cache.layers]
            del cache
            owner = np.array([k for k, g in enumerate(gs) for _ in g.members], dtype=np.int64)
            member = np.array([i for g in gs for i in g.members], dtype=np.int64)
            start = np.array([g.shared for g in gs for _ in g.members], dtype=np.int64)
            cont_len = np.array([len(batch[i].input_ids) for i in member], dtype=np.int64) - start
            for sub in buckets(cont_len + pre_ids.shape[1], self.batch_tokens):
                rows = [batch[int(i)] for i in member[sub]]
                ids, mask = self._padded([r.input_ids[int(s):] for r, s in zip(rows, start[sub])])
                full_mask = np.concatenate([pre_mask[owner[sub]], mask], axis=1).astype(np.int64)
                position_ids = start[sub][:, None] + np.arange(ids.shape[1])[None, :]
                with torch.inference_mode():
                    pick = torch.from_numpy(owner[sub]).to(self.device)
                    past = DynamicCache(config=self.model.config)
                    for li, (k, v) in enumerate(kv):
                        past.update(k.index_select(0, pick), v.index_select(0, pick), li)
                    hidden = self.body(input_ids=torch.from_numpy(ids).to(self.device),
                                       attention_mask=torch.from_numpy(full_mask).to(self.device),
                                       position_ids=torch.from_numpy(position_ids).to(self.device),
                                       past_key_values=past, use_cache=True).last_hidden_state
                    self._read_into(hidden, rows, member[sub], out, starts=start[sub])

    def _probe_sharing(self) -> bool:
        """Whether this model gives the same outputs with shared prefixes as without, on a small
        made-up batch (two groups of different prefix lengths, continuations of different
        lengths): any model that is not causal, or ignores position ids, fails and runs unshared."""
        rng = np.random.default_rng(0)
        vocab = int(getattr(self.model.config, "vocab_size", 0) or 0)
        if vocab < 2:
            return False
        pre = [rng.integers(0, vocab, 20).tolist(), rng.integers(0, vocab, 27).tolist()]
        probe = []
        for k, (p, lens) in enumerate(zip(pre, ((5, 9), (3, 12)))):
            for j, n in enumerate(lens):
                ids = p + rng.integers(0, vocab, n).tolist()
                probe.append(EncodedTrace(f"probe-{k}-{j}", ids, list(range(len(p), len(ids))), [None] * n))
        groups = [Group(20, (0, 1)), Group(27, (2, 3))]
        plain: list[np.ndarray] = [np.zeros((0, 0))] * 4
        shared: list[np.ndarray] = [np.zeros((0, 0))] * 4
        try:
            self._run_plain(probe, range(4), plain, arm="batched")
            self._run_shared(probe, groups, shared)
        except Exception:  # a model that does not take a cache or position ids
            return False
        tol = 1e-3 if self.dtype == "float32" else 5e-2
        return all(a.shape == b.shape and float(np.abs(a - b).max()) <= tol * (1 + float(np.abs(a).max()))
                   for a, b in zip(plain, shared))

    def close(self) -> None:
        del self.model, self.body, self.head
        free_memory(self.device)


def native_cpu_bf16() -> bool:
    """Whether this CPU has bf16 matmul kernels (oneDNN with AVX-512 BF16 or AMX); without them
    torch's bf16 matmuls are slower than float32."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _shape(torch: Any, body: Any, cfg: Any) -> Shape:
    """The cost model's view of the body (its linear weights, layers, attention width)."""
    linear = sum(m.weight.numel() for m in body.modules() if isinstance(m, torch.nn.Linear))
    heads = int(getattr(cfg, "num_attention_heads", 1) or 1)
    hidden = int(getattr(cfg, "hidden_size", 0) or 0)
    head_dim = int(getattr(cfg, "head_dim", None) or (hidden // heads if heads else 0))
    return Shape(linear_params=int(linear), layers=int(getattr(cfg, "num_hidden_layers", 1) or 1),
                 attn_width=heads * head_dim)


def load(spec: RunSpec) -> Loaded:
    if spec.prepared.recipe.model_kind == LM_KIND:  # log-probabilities / generation: transformers_lm.py
        from prm_viewer.scoring.backends.transformers_lm import TransformersLM

        return TransformersLM(spec)
    return TransformersRunner(spec)


BACKEND = Backend(
    name="transformers",
    help="transformers on CPU or GPU (bf16 on GPU, float32 on CPU), length-bucketed batches",
    model_kinds=frozenset({"token-classification", "causal-lm", LM_KIND}),
    load=load,
    dtypes=DTYPES,
    resolve=resolve,
)

# DTYPES and the resolve_* helpers stay importable from here for older callers (scorers.py,
# ui/checkpoints.py); torch_device.py owns them.
__all__ = ["BACKEND", "DTYPES", "TransformersRunner", "resolve_batch_tokens", "resolve_device", "resolve_dtype"]
