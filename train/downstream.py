"""The two VADER tasks that the downstream comparisons (train/distill_downstream.py,
train/transfer.py) fine-tune every model on, their fine-tuning configs, and the loop
that runs such a comparison's stages.

Data: `python -m data.vader --out=data_cache/labelled` (data/README.md).
"""

from __future__ import annotations

import copy
import os

from train import cli

# task -> (label column, the dev metric reported and kept)
TASKS = {"vader-binary": ("label", "accuracy"), "vader-regression": ("score", "pearson")}


def finetune_config(recipe, init: str, labelled: str, task: str, reinit: bool = False):
  """The fine-tuning recipe (train/configs/finetune_*.py) for one init and task."""
  c = copy.deepcopy(recipe)
  c.init, c.reinit = init, reinit
  c.data.train, c.data.dev = (os.path.join(labelled, task, f"{s}.csv") for s in ("train", "dev"))
  c.data.label_column = TASKS[task][0]
  return c


def run_stages(stages: list) -> list[dict] | None:
  """Runs (run, config, workdir) stages in order, each a project command's run function
  (train.pretrain.run, train.finetune.run, ...): their summaries, or None when a signal
  stopped one (said on stdout; the same command resumes). Bad input: one error line."""
  summaries = []
  for run, config, directory in stages:
    print(f"== {directory}", flush=True)
    try:
      summary = run(config, directory)
    except (ValueError, OSError) as e:
      cli.fail(" ".join(str(e).split()))
    if summary["stopped_by"]:
      print(f"stopped by {summary['stopped_by']}; run the same command to resume")
      return None
    summaries.append(summary)
  return summaries


def dev_score(summary: dict, task: str) -> float:
  """The task's reported metric at a fine-tuning run's best evaluation (else its last)."""
  best = summary["best"] or {"metrics": summary["eval"]}
  return best["metrics"][TASKS[task][1]]
