"""The tokenizer and the two tiny model kinds of the experiment, built from configs.

One tokenizer serves policy and PRM: byte-level BPE on the task alphabet with every digit its
own token (digits align as at character level; words are single tokens, so prompts stay short),
with the Qwen chat template and the ``<extra_0>`` step marker, so the PRM is a checkpoint in the
``qwen-prm`` layout and the policies are chat models that generation jobs can prompt.

Imports torch / transformers / tokenizers inside functions only.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterable
from typing import Any

from prm_viewer.experiment.config import ModelSize

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MARKER = "<extra_0>"
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""Qwen's ChatML without a system turn: these task-specific models take no instructions, and at
character level a system message would be most of every sequence (the policies' and the PRM's
compute). Generation jobs and the qwen-prm recipe pass a system message; this template drops it."""


def build_tokenizer(corpus: Iterable[str], vocab_size: int) -> Any:
    """A fast tokenizer (``PreTrainedTokenizerFast``): byte-level BPE trained on ``corpus``
    (the task alphabet) where every digit is its own token (``Digits(individual_digits=True)``
    splits them before the merges, so the digits of ``a op b = c`` align, as at character level)
    while the task's words (``Start``, `` subtract``, ``. What``...) become one token each,
    which keeps prompts short. Deterministic for the same corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(list(corpus), trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.add_tokens([MARKER], special_tokens=True)
    tok.chat_template = CHAT_TEMPLATE
    tok.padding_side = "left"  # generation pads on the left; training collators pad explicitly
    return tok


def qwen2_config(tok: Any, size: ModelSize, **extra: Any) -> Any:
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tok), hidden_size=size.hidden, intermediate_size=size.intermediate,
        num_hidden_layers=size.layers, num_attention_heads=size.heads, num_key_value_heads=size.kv_heads,
        max_position_embeddings=size.max_positions, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
        bos_token_id=None, tie_word_embeddings=True, initializer_range=size.init_std, **extra,
    )


def new_policy(tok: Any, size: ModelSize, seed: int) -> Any:
    """A freshly initialised ``Qwen2ForCausalLM``."""
    import torch
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    return Qwen2ForCausalLM(qwen2_config(tok, size))


def new_prm(tok: Any, policy: Any | None, size: ModelSize, seed: int) -> Any:
    """A ``Qwen2ForProcessRewardModel`` (the native qwen-prm layout); its body starts from the
    policy's body when given (as Qwen2.5-Math-PRM starts from an instruct model), its head fresh."""
    import torch

    from prm_viewer.scoring.qwen2_prm import Qwen2ForProcessRewardModel

    torch.manual_seed(seed)
    cfg = qwen2_config(tok, size, num_labels=2)
    cfg.architectures = ["Qwen2ForProcessRewardModel"]
    prm = Qwen2ForProcessRewardModel(cfg)
    if policy is not None:
        prm.model.load_state_dict(policy.model.state_dict())
        # The policy never saw the step marker; it separates steps by a newline. Starting the
        # marker's embedding at the newline's makes the PRM's input read like the policy's own
        # answers, so the head starts from features the body already computes there.
        emb = prm.model.embed_tokens.weight
        with torch.no_grad():
            emb[tok.convert_tokens_to_ids(MARKER)] = emb[tok("\n", add_special_tokens=False)["input_ids"][0]]
    return prm


def save(model: Any, tok: Any, folder: Path) -> Path:
    """A normal checkpoint folder: config.json, safetensors weights, tokenizer files."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def n_params(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))
