"""``transformers.Trainer`` on CPU for the experiment's supervised stages (SFT, PRM): a list
dataset, a padding collator, and the loss curve read from the trainer's log history."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

from prm_viewer.errors import MissingDependency


class ListDataset:
    """A list of ``{"input_ids": [...], "labels": [...]}`` as a map-style dataset."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]


def collate(pad_id: int) -> Callable[[list[dict[str, list[int]]]], dict[str, Any]]:
    """Right-pad ``input_ids`` with ``pad_id`` and ``labels`` with -100; an attention mask."""
    import torch

    def fn(batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[r, :n] = torch.tensor(b["input_ids"])
            labels[r, :n] = torch.tensor(b["labels"])
            mask[r, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return fn


def train(model: Any, rows: list[dict[str, list[int]]], pad_id: int, steps: int, lr: float, batch: int,
          seed: int, compute_loss: Callable[..., Any] | None = None, desc: str = "train") -> list[dict[str, float]]:
    """Train in place for ``steps`` optimizer steps (cycling through ``rows``) with
    ``Trainer(TrainingArguments(use_cpu=True))``; returns the loss curve (``step``, ``epoch``,
    ``loss``, logged about 30 times)."""
    try:
        from transformers import Trainer, TrainingArguments
    except ImportError:
        raise MissingDependency("transformers", "pip install -r requirements.txt", "the experiment") from None
    from importlib.util import find_spec

    if find_spec("accelerate") is None:  # Trainer needs it
        raise MissingDependency("accelerate", "pip install -r requirements.txt", "the experiment's training") from None
    steps = max(1, int(steps))
    with tempfile.TemporaryDirectory(prefix=f"prm-exp-{desc}-") as tmp:
        args = TrainingArguments(
            output_dir=tmp, use_cpu=True, bf16=False, per_device_train_batch_size=batch, max_steps=steps,
            learning_rate=lr, lr_scheduler_type="cosine", warmup_steps=max(1, steps // 20), weight_decay=0.0,
            logging_steps=max(1, steps // 30), save_strategy="no", report_to=[], seed=seed, data_seed=seed,
            dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=False, max_grad_norm=1.0,
        )
        trainer = Trainer(model=model, args=args, train_dataset=ListDataset(rows),
                          data_collator=collate(pad_id), compute_loss_func=compute_loss)
        trainer.train()
        history = trainer.state.log_history
    model.eval()
    return [{"step": int(h["step"]), "epoch": float(h.get("epoch", 0.0)), "loss": float(h["loss"])}
            for h in history if "loss" in h]
