"""MLM (+ NSP/SOP) pretraining: `python -m train.pretrain [--config=...] [--workdir=...]`.

A linear recipe: validate the config, prepare the data, build the model, optimizer
and step, then hand everything to train/loop.py. Running the same command again
resumes from the workdir's last checkpoint.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time

from absl import app, flags
from ml_collections import config_flags

import jaxbert
from jaxbert.configs import EncoderConfig

_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
try:  # ml_collections resolves --config.KEY overrides while defining the flag
  config_flags.DEFINE_config_file("config", os.path.join(_CONFIGS, "default.py"),
                                  "experiment config file", lock_config=True)
except (AttributeError, KeyError) as _e:
  print(f"error: unknown config key: {str(_e).strip(chr(34) + chr(39))}", file=sys.stderr)
  sys.exit(2)
flags.DEFINE_string("workdir", None, "run directory (default: config.workdir)")


def validate(config) -> None:
  """Refuse bad values before anything is written."""
  if config.model not in jaxbert.PRESETS:
    raise ValueError(f"unknown model preset {config.model!r}; known presets: "
                     f"{', '.join(jaxbert.PRESETS)}")
  for key in ("num_train_steps", "batch_size", "eval_every", "checkpoint_every", "log_every"):
    if not isinstance(config[key], int) or config[key] <= 0:
      raise ValueError(f"config.{key} must be a positive integer (got {config[key]!r})")
  if config.batch_size % config.optimizer.grad_accum_steps:
    raise ValueError(f"batch_size {config.batch_size} is not divisible by "
                     f"optimizer.grad_accum_steps {config.optimizer.grad_accum_steps}")
  if config.learning_rate <= 0:
    raise ValueError(f"config.learning_rate must be > 0 (got {config.learning_rate})")


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


def export_hf(directory: str, model, params) -> None:
  try:
    jaxbert.save_pretrained(directory, model, params)
  except Exception as e:  # the exporter may be missing or refuse this config
    logging.warning("Hugging Face export to %s skipped: %s: %s", directory, type(e).__name__, e)


def run(config, workdir: str) -> dict:
  import jax
  from train import loop, optim, parallel, state as state_lib, steps

  t0 = time.time()
  validate(config)
  par = parallel.Parallel.from_config(config.parallel)
  par.check_batch(config.batch_size // config.optimizer.grad_accum_steps)
  check_workdir(workdir, config)
  os.makedirs(workdir, exist_ok=True)
  data = jaxbert.data.prepare(config.data, workdir, seed=config.seed)
  cfg = model_config(config, data.vocab_size)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json(indent=2))

  model = jaxbert.PretrainingModel(cfg)
  tx, schedule = optim.make_optimizer(config.learning_rate, config.num_train_steps,
                                      config.optimizer)
  length = config.data.max_seq_length

  def init_fn(rng):
    ids = jax.numpy.zeros((1, length), jax.numpy.int32)
    return state_lib.create_state(model.init(rng, ids)["params"], tx)

  pair = cfg.pair_head is not None and config.data.pair_objective != "none"
  loss_fn = functools.partial(steps.mlm_loss_fn, model=model, pair=pair)
  task = loop.Task(
      init_fn=init_fn, tx=tx, schedule=schedule, loss_fn=loss_fn,
      loss_names=("mlm/loss", "pair/loss") if pair else ("mlm/loss",), data=data,
      model_config=cfg.to_dict(), tokens_per_example=length,
      export=(functools.partial(export_hf, os.path.join(workdir, "hf"), model)
              if config.export_hf else None))
  summary = loop.train(config, workdir, task, par)
  summary["wall_s"] = time.time() - t0
  return summary


def main(argv):
  del argv
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)   # orbax logs every file it writes
  config = flags.FLAGS.config
  workdir = flags.FLAGS.workdir or config.workdir
  try:
    s = run(config, workdir)
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  if s["stopped_by"]:
    print(f"stopped by {s['stopped_by']} at step {s['step']}; checkpoint saved in "
          f"{workdir}/checkpoints; run the same command to resume")
    return
  acc, loss = s["eval/mlm_accuracy"], s["eval/loss"]
  print(f"final: step {s['step']}  eval/mlm_accuracy {acc:.4f}  eval/loss {loss:.4f}  "
        f"wall {s['wall_s']:.0f}s  tokens/s {s['tokens_per_s']:.0f}")


def parse_flags(argv):
  """absl flag parsing with one-line errors (an unknown --config.KEY, a bad value)."""
  try:
    return flags.FLAGS(argv)
  except (flags.Error, AttributeError, KeyError, ValueError, TypeError) as e:
    print(f"error: bad command line: {str(e).strip(chr(34) + chr(39))}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
