"""Resolve a checkpoint (local directory or hub id), identify it, and detect its recipe.

A checkpoint is a folder with ``config.json`` (+ weights + tokenizer files). A hub id
(``org/name``) is fetched with ``huggingface_hub.snapshot_download`` where the machine can reach
a hub (honouring ``HF_HUB_OFFLINE``); a local directory always wins over a hub id of the same
spelling.

``trust_remote_code`` stays off unless the user turns it on for a scorer: turning it on lets
transformers import and run Python files shipped inside the checkpoint folder, with the user's
rights. The real Qwen2.5-Math-PRM checkpoints need no remote code here (their head is
implemented natively in ``qwen2_prm.py``).

Every failure is a one-line :class:`~prm_viewer.errors.RecipeError` naming the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prm_viewer.errors import MissingDependency, RecipeError

# Which model output an architecture produces, by class-name suffix; natively implemented
# architectures are listed by full name.
NATIVE_ARCHITECTURES: dict[str, str] = {"Qwen2ForProcessRewardModel": "token-classification"}
KIND_BY_SUFFIX: dict[str, str] = {
    "ForTokenClassification": "token-classification",
    "ForProcessRewardModel": "token-classification",
    "ForCausalLM": "causal-lm",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Files smaller than this are hashed whole; larger weight files are sampled (see revision()).
_WHOLE_HASH_LIMIT = 64 << 20


@dataclass(frozen=True)
class Checkpoint:
    """A resolved checkpoint folder."""

    ref: str
    """What the user gave (path or hub id)."""
    path: Path
    """The local folder."""
    config: dict[str, Any] = field(repr=False)
    """Parsed ``config.json``."""

    @property
    def architectures(self) -> tuple[str, ...]:
        return tuple(self.config.get("architectures") or ())

    @property
    def model_kind(self) -> str | None:
        """``token-classification`` / ``causal-lm`` from the architecture, else ``None``."""
        for arch in self.architectures:
            if arch in NATIVE_ARCHITECTURES:
                return NATIVE_ARCHITECTURES[arch]
            for suffix, kind in KIND_BY_SUFFIX.items():
                if arch.endswith(suffix):
                    return kind
        return None

    @property
    def needs_remote_code(self) -> bool:
        """The architecture is neither native nor a transformers class, but ships code (auto_map)."""
        return bool(self.config.get("auto_map")) and not any(a in NATIVE_ARCHITECTURES for a in self.architectures) \
            and not _known_to_transformers(self.architectures)


def _known_to_transformers(archs: tuple[str, ...]) -> bool:
    import transformers

    return any(hasattr(transformers, a) for a in archs)


def resolve(ref: str) -> Checkpoint:
    """A local directory, else a hub id fetched (or found in the local hub cache)."""
    ref = str(ref).strip()
    if not ref:
        raise RecipeError("no checkpoint given")
    path = Path(ref).expanduser()
    if not path.exists():
        if _HUB_ID.match(ref) and not ref.startswith((".", "/")):
            path = _from_hub(ref)
        else:
            raise RecipeError(f"checkpoint '{ref}': no such directory")
    if not path.is_dir():
        raise RecipeError(f"checkpoint '{ref}' is not a model directory (it is a file)")
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise RecipeError(f"checkpoint '{ref}' is not a model directory: it has no config.json")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecipeError(f"checkpoint '{ref}': cannot read config.json ({exc})") from None
    if not isinstance(config, dict):
        raise RecipeError(f"checkpoint '{ref}': config.json is not a JSON object")
    return Checkpoint(ref=ref, path=path.resolve(), config=config)


def _from_hub(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise MissingDependency("huggingface_hub", "pip install huggingface_hub", "checkpoints from a hub") from None
    try:
        return Path(snapshot_download(repo_id))
    except Exception as exc:  # network, auth, missing repo: all one line for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecipeError(
            f"checkpoint '{repo_id}': no such local directory, and it could not be fetched from the hub ({first})"
        ) from None


def revision(ckpt: Checkpoint) -> str:
    """An identity of the checkpoint's content: the hub commit for a hub snapshot folder, else
    ``sha256:`` over every file's name and bytes (files over 64 MiB: their size plus 16 sampled
    1 MiB chunks, so that a 15 GB checkpoint is identified in seconds, not minutes)."""
    if ckpt.path.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", ckpt.path.name):
        return "hub:" + ckpt.path.name
    h = hashlib.sha256()
    for f in sorted(p for p in ckpt.path.rglob("*") if p.is_file() and ".cache" not in p.parts):
        rel = f.relative_to(ckpt.path).as_posix()
        size = f.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        with open(f, "rb") as fh:
            if size <= _WHOLE_HASH_LIMIT:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            else:
                for k in range(16):
                    fh.seek((size - (1 << 20)) * k // 15)
                    h.update(fh.read(1 << 20))
    return "sha256:" + h.hexdigest()[:24]


def load_tokenizer(ckpt: Checkpoint, trust_remote_code: bool = False) -> Any:
    """The checkpoint's tokenizer (transformers AutoTokenizer), or a one-line RecipeError."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise MissingDependency("transformers", "pip install -r requirements.txt", "model scoring") from None
    try:
        return AutoTokenizer.from_pretrained(str(ckpt.path), trust_remote_code=trust_remote_code)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecipeError(f"checkpoint '{ckpt.ref}': cannot load its tokenizer ({msg[:300]})") from None


def has_token(tokenizer: Any, text: str) -> bool:
    """Whether ``text`` is one token of this tokenizer (encoded alone or in the vocabulary)."""
    if len(tokenizer.encode(text, add_special_tokens=False)) == 1:
        return True
    return text in tokenizer.get_vocab()


def detect_recipe(ckpt: Checkpoint, tokenizer: Any) -> str:
    """The recipe a checkpoint was trained for, from its architecture and marker tokens.

    Order: an architecture a recipe names (``Qwen2ForProcessRewardModel`` -> qwen-prm); else a
    marker token in the tokenizer that fits the model kind (``<extra_0>`` on a token classifier,
    ``ки`` on a causal LM); else a causal chat LM whose name says RLHFlow/PRM -> rlhflow.
    Raises RecipeError when nothing fits: the user passes ``--recipe``.
    """
    from prm_viewer.scoring.recipes import RECIPES

    kind = ckpt.model_kind
    for recipe in RECIPES.values():
        if set(recipe.architectures) & set(ckpt.architectures):
            return recipe.name
    for recipe in RECIPES.values():
        if recipe.model_kind == kind and recipe.marker_tokens and all(has_token(tokenizer, m) for m in recipe.marker_tokens):
            return recipe.name
    name = (str(ckpt.config.get("_name_or_path", "")) + " " + ckpt.path.name).lower()
    if kind == "causal-lm" and getattr(tokenizer, "chat_template", None) and ("rlhflow" in name or "-prm" in name):
        return "rlhflow"
    archs = ", ".join(ckpt.architectures) or "none declared"
    if kind is None:
        raise RecipeError(
            f"checkpoint '{ckpt.ref}': unknown architecture ({archs}); pass --recipe "
            f"({', '.join(RECIPES)}) and, for architectures shipped as code, --trust-remote-code"
        )
    raise RecipeError(
        f"checkpoint '{ckpt.ref}' ({archs}): cannot tell its recipe (no known marker token in its "
        f"tokenizer); pass --recipe ({', '.join(r for r, v in RECIPES.items() if v.model_kind == kind)})"
    )


def check_fit(ckpt: Checkpoint, recipe_name: str, trust_remote_code: bool) -> None:
    """Fail early when a recipe cannot read this checkpoint's outputs."""
    from prm_viewer.scoring.recipes import get_recipe

    recipe = get_recipe(recipe_name)
    if recipe.model_kind == "exact":
        return
    kind = ckpt.model_kind
    archs = ", ".join(ckpt.architectures) or "none declared"
    if kind is None:
        if ckpt.needs_remote_code and not trust_remote_code:
            raise RecipeError(
                f"checkpoint '{ckpt.ref}': architecture {archs} ships as code inside the checkpoint; "
                "turn trust_remote_code on for this scorer only if you trust its authors (it runs their Python code)"
            )
        if not trust_remote_code:
            raise RecipeError(f"checkpoint '{ckpt.ref}': unknown architecture ({archs})")
        return
    needed = "causal-lm" if recipe.model_kind == "language-model" else recipe.model_kind
    if kind != needed:
        raise RecipeError(
            f"recipe '{recipe_name}' needs a {needed} model but checkpoint '{ckpt.ref}' is {archs} ({kind})"
        )
