"""Bad input: one clear message on stderr, a non-zero exit, nothing written or overwritten.

Every case here fails before data preparation, so each costs one interpreter start.
"""

import json
import os

import pytest

from train_testing import TINY, run_pretrain


@pytest.mark.parametrize("args, message", [
    (["--config.model=bert-huge"], "unknown model preset 'bert-huge'"),
    (["--config.num_train_steps=0"], "config.num_train_steps must be a positive integer"),
    (["--config.batch_size=-8"], "config.batch_size must be a positive integer"),
    (["--config.parallel.mode=bogus"], "parallel.mode must be one of"),
])
def test_bad_values(tmp_path, args, message):
  wd = tmp_path / "wd"
  proc = run_pretrain(wd, *TINY, *args, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert f"error: {message}" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not wd.exists()


def test_unknown_config_key(tmp_path):
  proc = run_pretrain(tmp_path / "wd", *TINY, "--config.no_such_key=1", timeout=120)
  assert proc.returncode != 0
  assert "no_such_key" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not (tmp_path / "wd").exists()


def test_batch_not_divisible_by_devices(tmp_path):
  proc = run_pretrain(tmp_path / "wd", *TINY, "--config.batch_size=12", timeout=120,
                      env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "error: batch size 12 is not a positive multiple of the 8 batch shards" in proc.stderr
  assert not (tmp_path / "wd").exists()


def test_workdir_of_another_model(tmp_path):
  wd = tmp_path / "wd"
  wd.mkdir()
  saved = {"model": "bert-mini", "model_overrides": {}}
  (wd / "config.json").write_text(json.dumps(saved))
  proc = run_pretrain(wd, *TINY, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "holds a run of a different model" in proc.stderr
  assert os.listdir(wd) == ["config.json"]
  assert json.loads((wd / "config.json").read_text()) == saved


def test_non_finite_loss_stops_the_run(corpus, tmp_path):
  proc = run_pretrain(tmp_path, *corpus["args"], *TINY, "--config.learning_rate=1e30",
                      "--config.optimizer.clip_norm=0", "--config.num_train_steps=30",
                      "--config.checkpoint_every=100", "--config.eval_every=100", timeout=300)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "error: loss is nan" in proc.stderr or "error: loss is inf" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not (tmp_path / "checkpoints").exists() or not os.listdir(tmp_path / "checkpoints")
