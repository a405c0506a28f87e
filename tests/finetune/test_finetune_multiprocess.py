"""`python -m train.finetune` as 2 processes of 1 CPU device each (CPU collectives, the
explicit cluster keys a user passes per host) equals 1 process holding 2 devices: the
same dev evaluations, from predictions gathered across the processes, and the same
exported classifier."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

from finetune_testing import LENGTH, REPO


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def finetune(workdir, init, task, processes: int, devices: int) -> list[tuple[int, str]]:
  """(returncode, stderr) of each process of one run."""
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  args = [sys.executable, "-m", "train.finetune", f"--workdir={workdir}",
          f"--config.init={init}", f"--config.data.train={task['train']}",
          f"--config.data.dev={task['dev']}", f"--config.data.max_seq_length={LENGTH}",
          "--config.data.max_segments=4", "--config.batch_size=8",
          "--config.learning_rate=3e-3", "--config.num_epochs=2", "--config.progress_bar=False",
          "--config.parallel.init_timeout_s=120"]
  port = free_port()
  cluster = lambda i: ([f"--config.parallel.coordinator_address=localhost:{port}",
                        f"--config.parallel.num_processes={processes}",
                        f"--config.parallel.process_id={i}"] if processes > 1 else [])
  procs = [subprocess.Popen(args + cluster(i), cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True) for i in range(processes)]
  out = []
  try:
    for p in procs:
      _, err = p.communicate(timeout=400)
      out.append((p.returncode, err))
  finally:
    for p in procs:
      p.kill()
  return out


def evaluations(workdir) -> list[dict]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [r for r in map(json.loads, f) if r["split"] == "eval"]


def test_two_processes_equal_one_with_two_devices(task, hf_init, tmp_path):
  init = hf_init("bert")
  runs = {}
  for name, processes, devices in (("one", 1, 2), ("two", 2, 1)):
    wd = str(tmp_path / name)
    for code, err in finetune(wd, init, task, processes, devices):
      assert code == 0, err[-3000:]
    runs[name] = (evaluations(wd), load_file(os.path.join(wd, "hf", "model.safetensors")))
  (one, w1), (two, w2) = runs["one"], runs["two"]
  assert len(one) == 2 and [r["step"] for r in one] == [r["step"] for r in two]
  for a, b in zip(one, two):   # 80 dev examples, every one counted once
    assert a["accuracy"] == b["accuracy"] and a["f1"] == b["f1"] and a["mcc"] == b["mcc"]
    assert abs(a["loss"] - b["loss"]) <= 1e-6
  assert w1.keys() == w2.keys() and "classifier.weight" in w1
  assert max(float(np.abs(w1[k] - w2[k]).max()) for k in w1) <= 2e-7
