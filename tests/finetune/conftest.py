"""Shared fixtures: a synthetic sentiment task, its tokenizer, and the two kinds of
starting point (a jaxbert workdir, a Hugging Face directory); helpers in
finetune_testing.py."""

from __future__ import annotations

import pytest

from finetune_testing import random_params, sentiment_rows, tiny_config, write_csv


@pytest.fixture(scope="session")
def task(tmp_path_factory) -> dict:
  """train.csv (240 rows, every 40th too long), dev.csv (80), and the tokenizer's dir."""
  from jaxbert.data.tokenizer import train_tokenizer
  root = tmp_path_factory.mktemp("task")
  train, dev = sentiment_rows(0, 240, long_every=40), sentiment_rows(1, 80)
  tok = train_tokenizer([r["text"] + " " + r["text_b"] for r in train], vocab_size=200)
  tok.save(str(root / "tokenizer"))
  return {"dir": root, "train": write_csv(root / "train.csv", train),
          "dev": write_csv(root / "dev.csv", dev), "train_rows": train, "dev_rows": dev,
          "tokenizer": tok, "tokenizer_dir": str(root / "tokenizer")}


@pytest.fixture(scope="session")
def hf_init(task, tmp_path_factory):
  """family -> a Hugging Face directory of a random tiny pretraining model + tokenizer."""
  import jaxbert
  made = {}

  def make(family: str) -> str:
    if family not in made:
      model = jaxbert.PretrainingModel(tiny_config(family, task["tokenizer"].vocab_size))
      path = str(tmp_path_factory.mktemp(f"hf_{family}"))
      jaxbert.save_pretrained(path, model, random_params(model, seed=3),
                              tokenizer=task["tokenizer"])
      made[family] = path
    return made[family]
  return make


@pytest.fixture(scope="session")
def workdir_init(task, tmp_path_factory) -> str:
  """A jaxbert pretraining workdir: an orbax checkpoint of a tiny BERT at step 7 and the
  tokenizer files, as train.pretrain leaves them."""
  import jaxbert
  from train import optim, state as state_lib
  from train.checkpoint import Checkpointer
  from train.configs.default import get_config
  path = tmp_path_factory.mktemp("pretrained")
  task["tokenizer"].save(str(path))
  cfg = tiny_config("bert", task["tokenizer"].vocab_size)
  config = get_config()
  tx, _ = optim.make_optimizer(config.learning_rate, config.num_train_steps, config.optimizer)
  model = jaxbert.PretrainingModel(cfg)
  state = state_lib.create_state(random_params(model, seed=5), tx)
  ckpt = Checkpointer(str(path / "checkpoints"), async_save=False)
  ckpt.save(7, state, {}, {"config": config.to_dict(), "model": cfg.to_dict()})
  ckpt.close()
  return str(path)
