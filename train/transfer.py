"""Does a pretraining transfer? Its encoder against the same shape from random weights,
each fine-tuned with one recipe on both VADER tasks over several seeds.

    python -m train.transfer [--pretrain=train/configs/transfer.py] [--pretrain.KEY=VALUE]
        [--teacher=DIR]
        [--seeds=3] [--workdir=runs/transfer_check] [--labelled=data_cache/labelled]
        [--config.KEY=VALUE]

A linear recipe of the project's own commands, run in this process:
  1. the encoder: `python -m train.pretrain --config=PRETRAIN` into --teacher (default:
     the pretraining config's workdir, runs/transfer), resumed or skipped when done;
  2. for each seed 0..SEEDS-1, `python -m train.finetune` with the --config recipe
     (train/configs/finetune_default.py; overrides apply to every run) from the encoder,
     from its random-init twin (`--config.reinit=True`: the same shape and tokenizer) and,
     with --fresh=PARTS, from the encoder with those parts random (`--config.fresh`),
     on VADER's binary sentiment (dev accuracy) and mean ratings (dev Pearson), into
     WORKDIR/MODEL-TASK-sSEED (data: `python -m data.vader --out=data_cache/labelled`;
     MODEL is fresh_PARTS for the third, so runs with other --fresh parts coexist).
The fine-tuning seed draws the head's initial weights, the twin's weights, the order of
the rows and the dropout masks. The table (mean and standard deviation over the seeds,
and the gap, encoder minus twin) goes to stdout and WORKDIR/transfer.json. Each run
resumes from its checkpoint when the command is repeated.
"""

from __future__ import annotations

import json
import os
import re
import statistics

from absl import app, flags
from ml_collections import config_flags

from train import cli
from train.downstream import TASKS, dev_score, finetune_config, run_stages

BASE_MODELS = ("pretrained", "random")

config_flags.DEFINE_config_file("pretrain", os.path.join(cli.CONFIGS, "transfer.py"),
                                "the encoder's pretraining config (--pretrain.KEY=VALUE)",
                                lock_config=True)
flags.DEFINE_string("teacher", "", "the encoder's workdir (default: the pretraining "
                    "config's workdir)")
flags.DEFINE_integer("seeds", 3, "fine-tuning seeds per model and task")
flags.DEFINE_string("fresh", "", "also fine-tune the encoder with these parts from random "
                    "weights (config.fresh, e.g. encoder/layers: its embeddings alone)")
flags.DEFINE_string("labelled", "data_cache/labelled", "the directory of data.vader's CSVs")


def summarise(scores: dict) -> dict:
  """{task: {model: {mean, sd, runs, gap}}} of {model: {task: [per-seed scores]}}; the
  gap is the model's mean minus the random-init twin's."""
  table = {}
  for task in TASKS:
    row = {}
    for m, by_task in scores.items():
      runs = by_task[task]
      row[m] = {"mean": statistics.fmean(runs), "runs": runs,
                "sd": statistics.stdev(runs) if len(runs) > 1 else 0.0}
    for m in row:
      row[m]["gap"] = row[m]["mean"] - row["random"]["mean"]
    table[task] = row
  return table


def markdown_table(table: dict, seeds: int, fresh: str = "") -> list[str]:
  """summarise()'s table as Markdown lines: a row per model, per task its mean ± sd
  (accuracy in %) and its gap to the twin (accuracy in points)."""
  names = {"pretrained": "pretrained", "random": "random init",
           "fresh": f"pretrained, {fresh} fresh"}
  lines = [f"| model (mean ± sd over {seeds} seeds) | " + " | ".join(
      f"{t} {TASKS[t][1]} | gap" for t in table) + " |", "|---|" + "---|---|" * len(table)]
  for m in next(iter(table.values())):
    cells = []
    for task, row in table.items():
      scale, unit, digits = (100, "%", 2) if TASKS[task][1] == "accuracy" else (1, "", 3)
      r = row[m]
      gap = f"{scale * r['gap']:+.{digits}f}" + (" pts" if unit else "")
      cells += [f"{scale * r['mean']:.{digits}f}{unit} ± {scale * r['sd']:.{digits}f}",
                "—" if m == "random" else gap]
    lines.append(f"| {names[m]} | " + " | ".join(cells) + " |")
  return lines


def main(argv):
  del argv
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)   # orbax logs every file it writes
  from jaxbert.data import corpus as corpus_lib
  from train import finetune, pretrain
  recipe, f = flags.FLAGS.config, flags.FLAGS
  if f.seeds < 1:
    cli.fail(f"--seeds must be >= 1 (got {f.seeds})")
  workdir = f.workdir or "runs/transfer_check"
  first = f.pretrain
  teacher = f.teacher or first.workdir
  try:   # the local corpus files, before the pretraining writes anything
    local = [p for p in corpus_lib.parts(first.data.corpus) if not p.startswith("tfds:")]
    if local:
      corpus_lib.corpus_files(",".join(local))
  except ValueError as e:
    cli.fail(f"{e}; for WordNet's glosses: python -m data.wordnet --out={f.labelled} "
             f"--corpus=FILE")
  models = BASE_MODELS + (("fresh",) if f.fresh else ())
  stages = [(pretrain.run, first, teacher, None)]
  for seed in range(f.seeds):
    for m in models:
      for task in TASKS:
        c = finetune_config(recipe, teacher, f.labelled, task, reinit=m == "random")
        c.seed = seed
        if m == "fresh":
          c.fresh = f.fresh
        name = m if m != "fresh" else "fresh_" + re.sub(
            r"[^\w.+-]", "", f.fresh.replace("/", ".").replace(",", "+").replace(" ", ""))
        directory = os.path.join(workdir, f"{name}-{task}-s{seed}")
        stages.append((finetune.run, c, directory, (m, task)))
  summaries = run_stages([stage[:3] for stage in stages])
  if summaries is None:
    return
  scores = {m: {t: [] for t in TASKS} for m in models}
  majority = None
  for (*_, key), summary in zip(stages, summaries):
    if key is not None:
      model, task = key
      scores[model][task].append(dev_score(summary, task))
      majority = summary["majority"] if summary["majority"] is not None else majority
  table = summarise(scores)
  result = {"table": table, "majority_accuracy": majority, "teacher": teacher,
            "pretrain": json.loads(first.to_json()), "seeds": f.seeds, "fresh": f.fresh,
            "recipe": json.loads(recipe.to_json())}
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "transfer.json"), "w", encoding="utf-8") as out:
    json.dump(result, out, indent=2)
  print("\n".join(markdown_table(table, f.seeds, f.fresh)))
  print(f"majority class: {100 * majority:.2f}%")


if __name__ == "__main__":
  cli.define_flags("finetune_default.py")
  app.run(main, flags_parser=cli.parse_flags)
