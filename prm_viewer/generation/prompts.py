"""Prompts for a policy: the default step-by-step instruction, a user-edited template, the chat
template of the checkpoint's tokenizer."""

from __future__ import annotations

from typing import Any

from prm_viewer.errors import PrmViewerError

DEFAULT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
"""The system message of chat-template prompts (the Qwen math models' own)."""
DEFAULT_TEMPLATE = ("{problem}\n\nSolve it step by step, one step per paragraph (a blank line between "
                    "steps), and put your final answer within \\boxed{}.")
"""The user prompt; ``{problem}`` is replaced by the problem text (no other braces are read)."""
PLACEHOLDER = "{problem}"


def check_template(template: str | None) -> str:
    """The template to use (the default for ``None``/blank); one without ``{problem}`` is an error."""
    if template is None or not template.strip():
        return DEFAULT_TEMPLATE
    if PLACEHOLDER not in template:
        raise PrmViewerError("the prompt template must contain {problem} where the problem text goes")
    return template


def render(template: str | None, problem: str) -> str:
    """The user prompt for ``problem`` (plain replacement: ``\\boxed{}`` in a template stays)."""
    return check_template(template).replace(PLACEHOLDER, problem)


def prompt_text(tokenizer: Any, problem: str, template: str | None = None, system: str | None = None,
                use_chat_template: bool = True) -> str:
    """The text a policy continues: the tokenizer's chat template (system + user, generation
    prompt open) when it has one and ``use_chat_template``, else the rendered prompt and a blank line."""
    user = render(template, problem)
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system or DEFAULT_SYSTEM}, {"role": "user", "content": user}]
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    return user + "\n\n"


def prompt_ids(tokenizer: Any, problem: str, template: str | None = None, system: str | None = None,
               use_chat_template: bool = True) -> list[int]:
    """Token ids of :func:`prompt_text` (special tokens as the chat template writes them; a plain
    prompt gets the tokenizer's own, e.g. BOS)."""
    text = prompt_text(tokenizer, problem, template, system, use_chat_template)
    chat = use_chat_template and bool(getattr(tokenizer, "chat_template", None))
    return list(tokenizer.encode(text, add_special_tokens=not chat))


__all__ = ["DEFAULT_SYSTEM", "DEFAULT_TEMPLATE", "check_template", "prompt_ids", "prompt_text", "render"]
