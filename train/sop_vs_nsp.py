"""The ALBERT claim (Lan et al. 2020, Table 5): NSP vs SOP, each model on both tasks.

    python -m train.sop_vs_nsp [--config=train/configs/albert_sop_nsp.py] [--workdir=DIR]

A linear recipe: pretrain the config's model with NSP pairs (workdir/nsp), then with SOP
pairs (workdir/sop, loading the NSP run's vocabulary so both see the same tokens),
then score each final model's pair head on the held-out examples of both objectives
and write the 2 x 2 table (accuracy, %) to workdir/sop_vs_nsp.json and stdout.
Label conventions (jaxbert/data/examples.py): NSP 1 = B is a random span; SOP 1 = A and
B swapped. A model trained on one task is scored on the other with its head as is,
as the paper does. Running the command again resumes each run from its checkpoint.
"""

from __future__ import annotations

import copy
import json
import os

from absl import app

import jaxbert
from train import cli

OBJECTIVES = ("nsp", "sop")


def pair_accuracy(model, params, data, batch_size: int) -> tuple[float, int]:
  """(accuracy of argmax sentence_logits on data's eval examples, number of examples)."""
  import jax
  import numpy as np
  forward = jax.jit(lambda p, b: model.apply(
      {"params": p}, b["input_ids"], attention_mask=b["attention_mask"],
      token_type_ids=b["token_type_ids"]).sentence_logits)
  correct = total = 0.0
  for batch in data.eval_batches(batch_size):
    logits = np.asarray(forward(params, {k: batch[k] for k in
                                         ("input_ids", "attention_mask", "token_type_ids")}))
    w = batch["example_weights"]
    correct += float(((logits.argmax(-1) == batch["sentence_labels"]) * w).sum())
    total += float(w.sum())
  return correct / total, int(total)


def run_config(config, objective: str, vocab_dir: str | None):
  c = copy.deepcopy(config)
  c.data.pair_objective = objective
  c.model_overrides.pair_head = objective
  if vocab_dir:
    c.data.tokenizer_dir = vocab_dir
  return c


def main(argv):
  del argv
  from absl import flags, logging as absl_logging
  from train import pretrain
  absl_logging.set_verbosity(absl_logging.WARNING)   # orbax logs every file it writes
  config = flags.FLAGS.config
  workdir = flags.FLAGS.workdir or config.workdir
  runs = {}
  for objective in OBJECTIVES:
    c = run_config(config, objective, None if objective == "nsp" else
                   os.path.join(workdir, "nsp"))
    try:
      summary = pretrain.run(c, os.path.join(workdir, objective))
    except (ValueError, OSError) as e:
      cli.fail(" ".join(str(e).split()))
    if summary["stopped_by"]:
      print(f"stopped by {summary['stopped_by']}; run the same command to resume")
      return
    runs[objective] = summary
  import jaxbert.data
  table = {}
  for trained in OBJECTIVES:
    model, params = jaxbert.from_pretrained(os.path.join(workdir, trained, "hf"))
    for task in OBJECTIVES:
      c = run_config(config, task, os.path.join(workdir, "nsp"))
      data = jaxbert.data.prepare(c.data, os.path.join(workdir, f"eval_{task}"), c.seed)
      acc, n = pair_accuracy(model, params, data, c.batch_size)
      table[f"{trained}-trained on {task}"] = {"accuracy": acc, "examples": n}
  result = {"table": table, "config": json.loads(config.to_json()),
            "mlm_accuracy": {k: v.get("eval/mlm_accuracy") for k, v in runs.items()}}
  with open(os.path.join(workdir, "sop_vs_nsp.json"), "w") as f:
    json.dump(result, f, indent=2)
  print("| trained with | NSP accuracy | SOP accuracy | MLM accuracy |")
  print("|---|---|---|---|")
  for trained in OBJECTIVES:
    print(f"| {trained.upper()} | {100 * table[f'{trained}-trained on nsp']['accuracy']:.1f}% | "
          f"{100 * table[f'{trained}-trained on sop']['accuracy']:.1f}% | "
          f"{100 * result['mlm_accuracy'][trained]:.1f}% |")


if __name__ == "__main__":
  cli.define_flags("albert_sop_nsp.py")
  app.run(main, flags_parser=cli.parse_flags)
