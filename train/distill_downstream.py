"""The DistilBERT claim downstream (Sanh et al. 2019: 97% of BERT's GLUE score): a teacher,
its distilled student and the same student from scratch, each fine-tuned with one recipe.

    python -m train.distill_downstream [--workdir=runs/distill_downstream]
        [--corpus=sotu|task] [--teacher=DIR] [--labelled=data_cache/labelled]
        [--config.KEY=VALUE]

A linear recipe of the project's own commands, run in this process:
  1. the teacher: `python -m train.pretrain` (train/configs/default.py) into --teacher
     (default runs/default, the main job, for --corpus=sotu; workdir/teacher otherwise).
     --corpus=task pretrains on the fine-tuning task's own training texts, unlabelled
     (VADER's, written to workdir/corpus/ in BERT's format, 8 sentences a document; no
     dev text): in-domain pretraining, for when the main job's corpus does not transfer;
  2. the distilled student: `python -m train.distill` (train/configs/distill.py) from it,
     on the teacher's corpus, into workdir/distilled;
  3. the same student from scratch: `python -m train.pretrain
     --config=train/configs/distill_scratch.py` (the teacher's vocabulary, the same steps),
     into workdir/scratch;
  4. each of the three fine-tuned by `python -m train.finetune` with the --config recipe
     (train/configs/finetune_default.py, overrides apply to all eight runs) on VADER's
     binary sentiment (accuracy) and on its mean ratings as regression (Pearson), into
     workdir/finetune/MODEL-TASK (data: `python -m data.vader --out=data_cache/labelled`),
     and the teacher's shape from random weights (`--config.reinit=True`), the floor
     that says what pretraining adds.
Each run resumes from its checkpoint when the command is repeated. The table, the dev
scores of the best epoch and the students' retention (student / teacher, per task and
their mean), goes to workdir/distill_downstream.json and stdout. The students' inference
speed-up over the teacher: `python -m benchmarks.distill_speedup
--teacher=TEACHER/hf --student=WORKDIR/distilled/hf`.
"""

from __future__ import annotations

import csv
import json
import os

from absl import app, flags

from train import cli
from train.downstream import TASKS, dev_score, finetune_config, run_stages

MODELS = ("teacher", "distilled", "scratch", "random")
STUDENTS = ("distilled", "scratch")

flags.DEFINE_enum("corpus", "sotu", ["sotu", "task"], "the pretraining corpus of all three")
flags.DEFINE_string("teacher", "", "the teacher's workdir, trained when missing (default: "
                    "runs/default for --corpus=sotu, else WORKDIR/teacher)")
flags.DEFINE_string("labelled", "data_cache/labelled", "the directory of data.vader's CSVs")


def task_corpus(labelled: str, out_dir: str, per_document: int = 8) -> str:
  """The regression task's training texts (all of VADER's training sentences) as a BERT-
  format corpus file, `per_document` sentences a document; returns its path."""
  path = os.path.join(out_dir, "vader-train.txt")
  if not os.path.exists(path):
    with open(os.path.join(labelled, "vader-regression", "train.csv"), newline="",
              encoding="utf-8") as f:
      texts = [" ".join(r["text"].split()) for r in csv.DictReader(f)]
    os.makedirs(out_dir, exist_ok=True)
    with open(path + ".partial", "w", encoding="utf-8") as f:
      for i in range(0, len(texts), per_document):
        f.write("\n".join(texts[i:i + per_document]) + "\n\n")
    os.rename(path + ".partial", path)
  return path


def main(argv):
  del argv
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)   # orbax logs every file it writes
  from train import distill, finetune, pretrain
  from train.configs import default, distill as distill_cfg, distill_scratch
  recipe, f = flags.FLAGS.config, flags.FLAGS
  workdir = f.workdir or "runs/distill_downstream"
  teacher = f.teacher or ("runs/default" if f.corpus == "sotu" else os.path.join(workdir, "teacher"))
  configs = default.get_config(), distill_cfg.get_config(), distill_scratch.get_config()
  if f.corpus == "task":
    for c in configs:
      c.data.corpus = task_corpus(f.labelled, os.path.join(workdir, "corpus"))
      c.data.format = "bert"
  first, student, scratch = configs
  student.teacher = teacher
  scratch.data.tokenizer_dir = teacher
  stages = [(pretrain.run, first, teacher),
            (distill.run, student, os.path.join(workdir, "distilled")),
            (pretrain.run, scratch, os.path.join(workdir, "scratch"))]
  inits = dict(zip(MODELS, [d for _, _, d in stages] + [teacher]))
  stages += [(finetune.run, finetune_config(recipe, inits[m], f.labelled, t, m == "random"),
              os.path.join(workdir, "finetune", f"{m}-{t}")) for m in MODELS for t in TASKS]
  summaries = run_stages(stages)
  if summaries is None:
    return
  scores, majority = {}, None
  for (run, _, directory), summary in zip(stages, summaries):
    if run is finetune.run:
      model, task = os.path.basename(directory).split("-", 1)
      scores.setdefault(model, {})[task] = dev_score(summary, task)
      majority = summary["majority"] if summary["majority"] is not None else majority
  retention = {m: {t: scores[m][t] / scores["teacher"][t] for t in TASKS} for m in STUDENTS}
  for m in retention:
    retention[m]["mean"] = sum(retention[m].values()) / len(TASKS)
  result = {"scores": scores, "retention": retention, "majority_accuracy": majority,
            "teacher": teacher, "recipe": json.loads(recipe.to_json())}
  with open(os.path.join(workdir, "distill_downstream.json"), "w", encoding="utf-8") as out:
    json.dump(result, out, indent=2)
  print("| model | VADER binary accuracy | VADER regression Pearson | retention (mean) |")
  print("|---|---|---|---|")
  for m in MODELS:
    kept = f"{100 * retention[m]['mean']:.1f}%" if m in retention else "-"
    print(f"| {m} | {100 * scores[m]['vader-binary']:.2f}% | "
          f"{scores[m]['vader-regression']:.4f} | {kept} |")
  print(f"majority class: {100 * majority:.2f}%")


if __name__ == "__main__":
  cli.define_flags("finetune_default.py")
  app.run(main, flags_parser=cli.parse_flags)
