"""What the entry points share: flags, one-line errors, common config checks, HF export.

    python -m train.pretrain [--config=FILE] [--workdir=DIR] [--config.KEY=VALUE ...]
    python -m train.distill  --config=FILE --workdir=DIR --config.teacher=PATH

Flags are defined only when an entry point runs as a program (`define_flags` in its
`__main__` block), so the entry points import each other's functions freely.
"""

from __future__ import annotations

import logging
import os
import sys

from absl import flags
from ml_collections import config_flags

import jaxbert

CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


def fail(message: str) -> None:
  """One line on stderr and exit status 2: the answer to bad input."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def define_flags(default_config: str) -> None:
  """--config (a file under train/configs/ by default, overridable per key) and --workdir."""
  try:  # ml_collections resolves --config.KEY overrides while defining the flag
    config_flags.DEFINE_config_file("config", os.path.join(CONFIGS, default_config),
                                    "experiment config file", lock_config=True)
  except (AttributeError, KeyError) as e:
    fail(f"unknown config key: {str(e).strip(chr(34) + chr(39))}")
  flags.DEFINE_string("workdir", None, "run directory (default: config.workdir)")


def parse_flags(argv):
  """absl flag parsing with one-line errors (an unknown --config.KEY, a bad value, a
  missing config file)."""
  try:
    return flags.FLAGS(argv)
  except (flags.Error, AttributeError, KeyError, ValueError, TypeError, OSError) as e:
    fail(f"bad command line: {str(e).strip(chr(34) + chr(39))}")


def check_common(config) -> None:
  """Checks every recipe's shared keys, before anything is read or written."""
  if config.model and config.model not in jaxbert.PRESETS:
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
  overrides = config.get("model_overrides") or {}
  dtypes = (config.get("dtype"), config.get("param_dtype"), overrides.get("dtype"),
            overrides.get("param_dtype"))
  if "float16" in dtypes:
    raise ValueError("float16 training needs loss scaling, which jaxbert does not do "
                     "(small gradients underflow to zero); use bfloat16, which has "
                     "float32's exponent range, or float32")


def prepare_data(data_config, workdir: str, seed: int):
  """jaxbert.data.prepare on process 0 (it may train the tokenizer and build the dataset
  cache); the other processes wait, then open what it wrote without writing."""
  from train import multihost
  prepare = lambda **kw: jaxbert.data.prepare(data_config, workdir, seed=seed, **kw)
  data = multihost.on_writer(prepare, "data preparation")
  return data if multihost.is_writer() else prepare(writer=False)


def write_config(workdir: str, config) -> None:
  """workdir/config.json, the resolved config, written by process 0."""
  from train import multihost

  def write():
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json(indent=2))
  multihost.on_writer(write, "writing config.json")


def export_hf(directory: str, model, params, tokenizer=None) -> None:
  """The Hugging Face export at the end of a run, with the run's tokenizer (a jaxbert
  Tokenizer or its directory) so AutoTokenizer and pipeline(...) load it as is; a model
  without an HF class is skipped."""
  try:
    jaxbert.save_pretrained(directory, model, params, tokenizer=tokenizer)
  except ValueError as e:
    logging.warning("Hugging Face export to %s skipped: %s", directory, e)


def run_or_fail(run) -> dict | None:
  """`run(config, workdir)` with the parsed flags. Bad input: one line, exit status 2.
  Returns the run's summary, or None after a SIGTERM/SIGINT stop (said on stdout)."""
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)   # orbax logs every file it writes
  from train import loop
  config = flags.FLAGS.config
  try:
    workdir = flags.FLAGS.workdir or config.workdir
    with loop.STOP:     # a SIGTERM from here on stops at the first step boundary
      summary = run(config, workdir)
  except (ValueError, OSError) as e:   # OSError: a missing config file or corpus
    fail(" ".join(str(e).split()))
  if summary["stopped_by"]:
    print(f"stopped by {summary['stopped_by']} at step {summary['step']}; checkpoint saved "
          f"in {workdir}/checkpoints; run the same command to resume")
    return None
  return summary
