"""MLM (+ NSP/SOP) pretraining: `python -m train.pretrain [--config=...] [--workdir=...]`.

A linear recipe: validate the config, prepare the data, build the model, optimizer
and step, then hand everything to train/loop.py. Running the same command again
resumes from the workdir's last checkpoint.
"""

from __future__ import annotations

import functools
import json
import os
import time

from absl import app

import jaxbert
from jaxbert.configs import EncoderConfig
from train import cli



def validate(config) -> None:
  """Refuse bad values before anything is written."""
  if not config.model:
    raise ValueError("config.model must name a preset: " + ", ".join(jaxbert.PRESETS))
  cli.check_common(config)
  pair, objective = jaxbert.get_config(config.model).pair_head, config.data.pair_objective
  overrides = config.model_overrides
  if "pair_head" in overrides and overrides.pair_head is not None:
    pair = overrides.pair_head
  if pair and objective != "none" and pair != objective:
    raise ValueError(f"data.pair_objective={objective!r} does not match the model's "
                     f"{pair!r} head; set --config.data.pair_objective={pair}")


def unigram_baseline(data, batch_size: int) -> tuple[float, int]:
  """(held-out MLM accuracy of always predicting the most frequent masked token, its id).

  A run whose accuracy is not above it learned nothing beyond the unigram distribution
  (issue 14: bert-mini at the main job's learning rate scored 4.0% against 5.3%)."""
  import numpy as np
  counts = np.zeros(data.vocab_size)
  for batch in data.eval_batches(batch_size):
    w = batch["masked_weights"] * batch["example_weights"][:, None]
    counts += np.bincount(batch["masked_ids"].ravel(), weights=w.ravel(),
                          minlength=data.vocab_size)
  return float(counts.max() / max(counts.sum(), 1e-9)), int(counts.argmax())


def model_config(config, vocab_size: int) -> EncoderConfig:
  overrides = {k: v for k, v in config.model_overrides.items() if v is not None}
  overrides.setdefault("dtype", config.dtype)
  overrides.setdefault("param_dtype", config.param_dtype)
  overrides.setdefault("vocab_size", vocab_size)
  if overrides["vocab_size"] != vocab_size:
    raise ValueError(f"model vocab_size {overrides['vocab_size']} != the tokenizer's {vocab_size}")
  return jaxbert.get_config(config.model, **overrides)


def check_workdir(workdir: str, config) -> None:
  """A workdir of another model is refused before anything in it is touched."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f)
  old = (saved.get("model"), {k: v for k, v in (saved.get("model_overrides") or {}).items()
                              if v is not None})
  new = (config.model, {k: v for k, v in config.model_overrides.items() if v is not None})
  if old != new:
    raise ValueError(f"workdir {workdir} holds a run of a different model ({old[0]} "
                     f"{old[1]} vs {new[0]} {new[1]}); use another --workdir")


def run(config, workdir: str) -> dict:
  import jax
  from jaxbert import losses
  from train import loop, multihost, optim, parallel, state as state_lib

  t0 = time.time()
  validate(config)
  par = parallel.Parallel.from_config(config.parallel)   # joins the cluster if distributed
  multihost.check_same_config(config, workdir)
  par.check_batch(config.batch_size // config.optimizer.grad_accum_steps)
  check_workdir(workdir, config)
  data = cli.prepare_data(config.data, workdir, config.seed)   # process 0 writes
  cfg = model_config(config, data.vocab_size)
  cli.write_config(workdir, config)

  model = jaxbert.PretrainingModel(cfg)
  tx, schedule = optim.make_optimizer(config.learning_rate, config.num_train_steps,
                                      config.optimizer)
  length = config.data.max_seq_length

  def init_fn(rng):
    ids = jax.numpy.zeros((1, length), jax.numpy.int32)
    return state_lib.create_state(model.init(rng, ids)["params"], tx)

  pair = cfg.pair_head is not None and config.data.pair_objective != "none"
  loss_fn = functools.partial(losses.mlm_loss_fn, model=model, pair=pair)
  task = loop.Task(
      init_fn=init_fn, tx=tx, schedule=schedule, loss_fn=loss_fn,
      loss_names=("mlm/loss", "pair/loss") if pair else ("mlm/loss",), data=data,
      model_config=cfg.to_dict(), tokens_per_example=length,
      export=(functools.partial(cli.export_hf, os.path.join(workdir, "hf"), model,
                                tokenizer=data.tokenizer)
              if config.export_hf else None))
  summary = loop.train(config, workdir, task, par)
  baseline, token = unigram_baseline(data, config.batch_size)
  summary["eval/unigram_baseline"] = baseline
  summary["unigram_token"] = data.tokenizer.id_to_token[token]
  summary["wall_s"] = time.time() - t0
  return summary


def main(argv):
  del argv
  s = cli.run_or_fail(run)
  if s is None:
    return
  acc, loss, base = s["eval/mlm_accuracy"], s["eval/loss"], s["eval/unigram_baseline"]
  print(f"final: step {s['step']}  eval/mlm_accuracy {acc:.4f}  eval/loss {loss:.4f}  "
        f"wall {s['wall_s']:.0f}s  tokens/s {s['tokens_per_s']:.0f}  "
        f"(always {s['unigram_token']!r}: {base:.4f})")
  if acc <= base:
    print(f"warning: held-out MLM accuracy {acc:.2%} is not above {base:.2%}, the score of "
          f"always predicting {s['unigram_token']!r}: this run learned nothing beyond token "
          f"frequencies. Lower --config.learning_rate (bert-mini learned at 5e-4 where 2e-3 "
          f"stalled) or train longer.")


if __name__ == "__main__":
  cli.define_flags("default.py")
  app.run(main, flags_parser=cli.parse_flags)
