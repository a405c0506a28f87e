"""The two VADER tasks that the downstream comparisons (train/distill_downstream.py,
train/transfer.py) fine-tune every model on, and their fine-tuning configs.

Data: `python -m data.vader --out=data_cache/labelled` (data/README.md).
"""

from __future__ import annotations

import copy
import os

# task -> (label column, the dev metric reported and kept)
TASKS = {"vader-binary": ("label", "accuracy"), "vader-regression": ("score", "pearson")}


def finetune_config(recipe, init: str, labelled: str, task: str, reinit: bool = False):
  """The fine-tuning recipe (train/configs/finetune_*.py) for one init and task."""
  c = copy.deepcopy(recipe)
  c.init, c.reinit = init, reinit
  c.data.train, c.data.dev = (os.path.join(labelled, task, f"{s}.csv") for s in ("train", "dev"))
  c.data.label_column = TASKS[task][0]
  return c
