"""Native ``Qwen2ForProcessRewardModel`` (Qwen2.5-Math-PRM), so those checkpoints load with
``trust_remote_code`` off.

Layout, as in the checkpoints' own ``modeling_qwen2_rm.py`` and vLLM's ``qwen2_rm.py``: a
``Qwen2Model`` body under ``model.*`` and a two-layer head ``score = Sequential(Linear(hidden,
hidden), ReLU(), Linear(hidden, 2))``, weights ``score.0.{weight,bias}`` and
``score.2.{weight,bias}``; any ``lm_head.*`` weights are ignored. Output: per-token logits over
2 labels (index 1 = correct).

Imports torch/transformers at module level: import this module only inside functions.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import Qwen2Config
from transformers.modeling_outputs import TokenClassifierOutput
from transformers.models.qwen2.modeling_qwen2 import Qwen2Model, Qwen2PreTrainedModel


class Qwen2ForProcessRewardModel(Qwen2PreTrainedModel):
    """Qwen2 body + the PRM's two-layer token-classification head."""

    config_class = Qwen2Config
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\."]

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__(config)
        self.num_labels = 2
        self.model = Qwen2Model(config)
        self.score = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.ReLU(),
            nn.Linear(config.hidden_size, self.num_labels),
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.model.embed_tokens

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> TokenClassifierOutput:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).last_hidden_state
        return TokenClassifierOutput(logits=self.score(hidden))
