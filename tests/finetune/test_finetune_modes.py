"""Parallel.compile_predict (the fine-tuning evaluation's per-row outputs) gives every
row back in order under jit, pmap and shard_map, on 4 simulated CPU devices (in a
subprocess: the device count is fixed when jax starts)."""

import os
import subprocess
import sys

from finetune_testing import REPO

SCRIPT = r"""
import numpy as np, jax
from train import parallel
rows = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)
for mode in ("jit", "pmap", "shard_map"):
  par = parallel.Parallel(mode)
  predict = par.compile_predict(lambda p, b, extra: {"y": b["x"] * p, "first": b["x"][:, 0]})
  params = jax.device_put(np.float32(2.0), parallel.S.replicated(par.mesh))
  out = predict(params, par.put_batch({"x": rows}))
  assert out["y"].shape == (8, 3) and np.array_equal(out["y"], 2 * rows), (mode, out)
  assert np.array_equal(out["first"], rows[:, 0]), mode
print("ok", jax.device_count())
"""


def test_predict_rows_in_every_mode():
  env = dict(os.environ, PYTHONPATH=REPO, XLA_FLAGS="--xla_force_host_platform_device_count=4",
             JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.split() == ["ok", "4"]
