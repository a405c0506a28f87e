"""Exact resume after a real SIGKILL, same seed -> same metrics, SIGTERM, refused workdirs.

All runs are `python -m train.pretrain` subprocesses on a tiny model and corpus.
"""

import json
import os
import shutil
import signal
import time

import numpy as np
import pytest

from train_testing import TINY, popen_pretrain, run_pretrain

N = 40
ARGS = TINY + [f"--config.num_train_steps={N}", "--config.checkpoint_every=5",
               "--config.eval_every=20", "--config.log_every=1", "--config.keep_checkpoints=2"]


def metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(l) for l in f if l.strip()]
  return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]


def params(workdir, step=N):
  import orbax.checkpoint as ocp
  tree = ocp.StandardCheckpointer().restore(os.path.join(workdir, "checkpoints", str(step), "state"))
  import jax
  return [np.asarray(x) for x in jax.tree.leaves(tree["params"])]


def checkpoints(workdir):
  d = os.path.join(workdir, "checkpoints")
  return sorted(int(n) for n in os.listdir(d) if n.isdigit()) if os.path.isdir(d) else []


def interrupt(proc, workdir, sig):
  """Send `sig` once the first checkpoint is finalised; return the process's output."""
  deadline = time.time() + 240
  while not checkpoints(workdir) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  proc.send_signal(sig)
  out, err = proc.communicate(timeout=240)
  return proc.returncode, out, err


@pytest.fixture(scope="module")
def straight(corpus, tmp_path_factory):
  wd = tmp_path_factory.mktemp("straight")
  proc = run_pretrain(wd, *corpus["args"], *ARGS)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f"final: step {N}" in proc.stdout
  return wd


def assert_same_run(a, b):
  ma, mb = metrics(a), metrics(b)
  assert [m["step"] for m in ma] == [m["step"] for m in mb]
  assert ma == mb                                               # bitwise: floats compare equal
  for x, y in zip(params(a), params(b)):
    np.testing.assert_array_equal(x, y)


def test_same_seed_same_metrics(straight, corpus, tmp_path):
  proc = run_pretrain(tmp_path, *corpus["args"], *ARGS)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert_same_run(straight, tmp_path)


def test_resume_after_sigkill_is_exact(straight, corpus, tmp_path):
  code, _, _ = interrupt(popen_pretrain(tmp_path, *corpus["args"], *ARGS), tmp_path,
                         signal.SIGKILL)
  assert code == -signal.SIGKILL
  assert checkpoints(tmp_path) and max(checkpoints(tmp_path)) < N
  proc = run_pretrain(tmp_path, *corpus["args"], *ARGS)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert_same_run(straight, tmp_path)


def test_sigterm_checkpoints_and_resumes(straight, corpus, tmp_path):
  code, out, err = interrupt(popen_pretrain(tmp_path, *corpus["args"], *ARGS), tmp_path,
                             signal.SIGTERM)
  assert code == 0, err[-3000:]
  assert "stopped by SIGTERM" in out
  stopped = max(checkpoints(tmp_path))
  assert 0 < stopped < N
  proc = run_pretrain(tmp_path, *corpus["args"], *ARGS)
  assert proc.returncode == 0 and f"final: step {N}" in proc.stdout, proc.stderr[-3000:]
  assert_same_run(straight, tmp_path)


def _snapshot(workdir):
  return {os.path.relpath(os.path.join(r, f), workdir): os.path.getsize(os.path.join(r, f))
          for r, _, fs in os.walk(workdir) for f in fs}


def test_different_model_is_refused(straight, corpus, tmp_path):
  wd = tmp_path / "wd"
  shutil.copytree(straight, wd)
  before = _snapshot(wd)
  proc = run_pretrain(wd, *corpus["args"], *ARGS, "--config.model_overrides.hidden_size=64")
  assert proc.returncode == 2
  assert "different model" in proc.stderr and "Traceback" not in proc.stderr
  assert _snapshot(wd) == before


def test_corrupt_checkpoint_is_refused(straight, corpus, tmp_path):
  wd = tmp_path / "wd"
  shutil.copytree(straight, wd)
  state_dir = wd / "checkpoints" / str(N) / "state"
  for root, _, files in os.walk(state_dir):
    for f in files:
      with open(os.path.join(root, f), "r+b") as fh:
        fh.truncate(max(os.path.getsize(os.path.join(root, f)) // 3, 1))
  before = _snapshot(wd)
  proc = run_pretrain(wd, *corpus["args"], *ARGS)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "cannot be restored" in proc.stderr and "Traceback" not in proc.stderr
  assert _snapshot(wd) == before
