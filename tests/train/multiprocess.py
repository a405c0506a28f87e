"""Launching `python -m train.pretrain` as N processes on localhost (CPU collectives).

Each process gets `devices` simulated CPU devices and joins the cluster through the
explicit keys (parallel.coordinator_address / num_processes / process_id), exactly
as a user would start one command per host.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from conftest import REPO


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
