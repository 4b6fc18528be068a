"""Tiny real checkpoints for scoring tests, built from configs and saved to disk (no downloads).

Reusable by other backends' tests (vLLM): every model has head_dim >= 32, a real fast tokenizer
trained with the ``tokenizers`` library, and is saved with ``save_pretrained`` (or, for the
Qwen2.5-Math-PRM layout, written as safetensors with exactly that checkpoint's weight names).

``build_all(root)`` returns ``{name: folder}`` for:

- ``qwen-tokcls``: ``Qwen2ForTokenClassification`` (2 labels) whose tokenizer has ``<extra_0>``
  and a Qwen chat template;
- ``qwen-prm``: the ``Qwen2ForProcessRewardModel`` layout (``model.*``, ``score.0.*``,
  ``score.2.*``, an ``lm_head.weight`` the real ones carry, an ``auto_map`` to remote code
  that does NOT exist here, proving it is never needed);
- ``shepherd``: ``MistralForCausalLM`` whose tokenizer has ``ки``, ``+`` and ``-``;
- ``rlhflow``: ``LlamaForCausalLM`` with a Llama-3-style chat template (folder name says PRM).
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = [
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning.",
    "Step 1: We compute 16 - 3 = 13 eggs left. Step 2: 13 * 2 = 26 dollars.",
    "Let x be the number of apples. Then 2x + 5 = 17, so x = 6.",
    "The answer is 18. Therefore the final answer is \\boxed{18}.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "First, add the numbers: 7 + 5 = 12. Next, multiply by 3: 12 * 3 = 36.",
    "Subtract 4 from 36 to get 32. The result is 32.",
    "A triangle has sides 3, 4 and 5; its area is 6. The perimeter is 12.",
    "If f(x) = x^2 - 1 then f(3) = 8 and f(-1) = 0.",
    "We divide 48 by 6 and get 8; the remainder is 0.",
    "user assistant system + -",
] * 3

QWEN_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

SMALL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
             num_key_value_heads=1, max_position_embeddings=256, initializer_range=0.2)


def make_tokenizer(special: list[str], added: list[str], chat_template: str | None, **roles: str):
    """A byte-level BPE fast tokenizer trained on CORPUS, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(CORPUS, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, **roles)
    if added:
        tok.add_tokens(added, special_tokens=True)
    if chat_template:
        tok.chat_template = chat_template
    return tok


def _seed(n: int) -> None:
    import torch

    torch.manual_seed(n)


def build_qwen_tokcls(folder: Path) -> Path:
    from transformers import Qwen2Config, Qwen2ForTokenClassification

    tok = make_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], ["<extra_0>"], QWEN_TEMPLATE,
                         eos_token="<|im_end|>", pad_token="<|endoftext|>")
    _seed(1)
    cfg = Qwen2Config(vocab_size=len(tok), num_labels=2, pad_token_id=tok.pad_token_id, **SMALL)
    model = Qwen2ForTokenClassification(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_qwen_prm(folder: Path) -> Path:
    """Exactly the Qwen2.5-Math-PRM layout: config architecture + weight names, remote-code auto_map."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2Config, Qwen2Model

    tok = make_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], ["<extra_0>"], QWEN_TEMPLATE,
                         eos_token="<|im_end|>", pad_token="<|endoftext|>")
    _seed(2)
    cfg = Qwen2Config(vocab_size=len(tok), pad_token_id=tok.pad_token_id, **SMALL)
    body = Qwen2Model(cfg)
    h = cfg.hidden_size
    weights = {f"model.{k}": v.contiguous() for k, v in body.state_dict().items()}
    weights["score.0.weight"] = torch.randn(h, h) * 0.1
    weights["score.0.bias"] = torch.randn(h) * 0.1
    weights["score.2.weight"] = torch.randn(2, h) * 0.2
    weights["score.2.bias"] = torch.randn(2) * 0.5
    weights["lm_head.weight"] = torch.randn(cfg.vocab_size, h) * 0.02
    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    conf = cfg.to_dict()
    conf["architectures"] = ["Qwen2ForProcessRewardModel"]
    conf["auto_map"] = {"AutoConfig": "configuration_qwen2_rm.Qwen2RMConfig",
                        "AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"}
    (folder / "config.json").write_text(json.dumps(conf, indent=2))
    tok.save_pretrained(folder)
    return folder


def build_shepherd(folder: Path) -> Path:
    from transformers import MistralConfig, MistralForCausalLM

    tok = make_tokenizer(["<unk>", "<s>", "</s>"], ["ки"], None, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    # Mistral's tokenizer adds BOS; so does this one (as the recipe's plain-text input expects)
    from tokenizers import processors

    tok._tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                                 special_tokens=[("<s>", tok.bos_token_id)])
    _seed(3)
    cfg = MistralConfig(vocab_size=len(tok), head_dim=32, tie_word_embeddings=False, **SMALL)
    MistralForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_rlhflow(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = make_tokenizer(["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                         [], LLAMA3_TEMPLATE, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    _seed(4)
    cfg = LlamaConfig(vocab_size=len(tok), head_dim=32, tie_word_embeddings=False, **SMALL)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


BUILDERS = {
    "qwen-tokcls": ("tiny-qwen-tokcls", build_qwen_tokcls),
    "qwen-prm": ("tiny-Qwen2.5-Math-PRM", build_qwen_prm),
    "shepherd": ("tiny-math-shepherd", build_shepherd),
    "rlhflow": ("tiny-RLHFlow-PRM", build_rlhflow),
}


def build_all(root: Path) -> dict[str, Path]:
    out = {}
    for name, (folder, fn) in BUILDERS.items():
        out[name] = fn(root / folder)
    return out
