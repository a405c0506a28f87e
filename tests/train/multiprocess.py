"""Launching `python -m train.pretrain` as N processes on localhost (CPU collectives).

Each process gets `devices` simulated CPU devices and joins the cluster through the
explicit keys (parallel.coordinator_address / num_processes / process_id), exactly
as a user would start one command per host.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

from train_testing import REPO, TINY

N = 6                       # optimizer steps of every run: eval and checkpoint at 3 and 6
ARGS = TINY + [f"--config.num_train_steps={N}", "--config.eval_every=3",
               "--config.checkpoint_every=3", "--config.log_every=1",
               "--config.export_hf=True", "--config.parallel.init_timeout_s=120"]


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def cluster_args(port: int, n: int, i: int) -> list[str]:
  return [f"--config.parallel.coordinator_address=localhost:{port}",
          f"--config.parallel.num_processes={n}", f"--config.parallel.process_id={i}"]


def start(workdir, n: int, devices: int, *args, per_process=None, port=None, only=None):
  """Popen N processes (or those in `only`); per_process(i) -> extra args for process i."""
  port = port or free_port()
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  procs = []
  for i in (range(n) if only is None else only):
    extra = ((cluster_args(port, n, i) if n > 1 else [])
             + list(per_process(i) if per_process else []))
    cmd = [sys.executable, "-m", "train.pretrain", f"--workdir={workdir}", *args, *extra]
    procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True))
  return procs


def finish(procs, timeout: float = 400) -> list[tuple[int, str, str]]:
  """(returncode, stdout, stderr) of every process; kills them all on a timeout."""
  deadline, out = time.time() + timeout, []
  for p in procs:
    try:
      o, e = p.communicate(timeout=max(deadline - time.time(), 1))
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      raise
    out.append((p.returncode, o, e))
  return out


def run(workdir, n: int, devices: int, *args, **kw) -> list[tuple[int, str, str]]:
  return finish(start(workdir, n, devices, *args, **kw))


def errors(result) -> list[str]:
  """The `error:` lines each process printed on stderr."""
  return [[l for l in e.splitlines() if l.startswith("error:")] for _, _, e in result]


def evals(workdir) -> list[dict]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(l) for l in f if l.strip()]
  return [r for r in rows if r["split"] == "eval"]


def exported(workdir) -> dict[str, np.ndarray]:
  from safetensors.numpy import load_file
  return load_file(os.path.join(workdir, "hf", "model.safetensors"))


def assert_ok(result, step=N):
  for code, out, err in result:
    assert code == 0, err[-3000:]
    assert f"final: step {step}" in out, out[-1000:]


def assert_close_runs(a, b, metric_tol=1e-6, param_tol=2e-7):
  ea, eb = evals(a), evals(b)
  assert [r["step"] for r in ea] == [r["step"] for r in eb] == [3, N]   # one writer
  for ra, rb in zip(ea, eb):
    for k in ("loss", "mlm/accuracy", "mlm/loss", "pair/loss"):
      assert abs(ra[k] - rb[k]) <= metric_tol * max(1.0, abs(rb[k])), (k, ra[k], rb[k])
  pa, pb = exported(a), exported(b)
  assert pa.keys() == pb.keys()
  for k in pa:
    np.testing.assert_allclose(pa[k], pb[k], rtol=0, atol=param_tol, err_msg=k)
