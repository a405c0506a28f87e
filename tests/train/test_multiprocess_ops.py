"""Multi-host operations, for real: N processes on localhost with CPU collectives.

A SIGTERM on one host stops every host at the same step and the rerun ends where an
uninterrupted run ends, bitwise; a checkpoint written with fsdp=4 on 4 devices restores
onto 1 device and onto 2 processes x data=2; a changed global batch is said in one
line; bad input is one `error:` line on every process, with nothing saved touched.
"""

import os
import shutil
import signal
import time

import numpy as np
import pytest

from train_testing import TINY
from multiprocess import ARGS, N, assert_ok, errors, evals, exported, finish, run, start


@pytest.fixture(scope="module")
def straight(corpus, tmp_path_factory):
  """2 processes, jit data=2, uninterrupted."""
  wd = tmp_path_factory.mktemp("straight")
  assert_ok(run(wd, 2, 1, *corpus["args"], *ARGS))
  return wd


@pytest.fixture(scope="module")
def fsdp4(corpus, tmp_path_factory):
  """A run (and its checkpoints) of fsdp=4 on 4 devices."""
  wd = tmp_path_factory.mktemp("fsdp4")
  assert_ok(run(wd, 1, 4, *corpus["args"], *ARGS, "--config.parallel.fsdp=4"))
  return wd


def test_sigterm_on_one_host_stops_all_at_one_step(straight, corpus, tmp_path):
  """SIGTERM to process 1 as soon as start-up wrote config.json: both processes stop
  after the same step, save it and exit 0; the rerun ends where a straight run ends."""
  procs = start(tmp_path, 2, 1, *corpus["args"], *ARGS)
  deadline = time.time() + 300
  while time.time() < deadline and procs[1].poll() is None:
    if os.path.exists(tmp_path / "config.json"):
      break
    time.sleep(0.05)
  procs[1].send_signal(signal.SIGTERM)
  result = finish(procs)
  for code, out, err in result:
    assert code == 0, err[-3000:]
    assert "stopped by" in out and "checkpoint saved" in out, out[-1000:]
  saved = sorted(int(d) for d in os.listdir(tmp_path / "checkpoints") if d.isdigit())
  assert 1 <= saved[-1] < N, saved
  assert_ok(run(tmp_path, 2, 1, *corpus["args"], *ARGS))
  assert evals(tmp_path) == evals(straight)                        # exact: same layout
  for k, v in exported(straight).items():
    np.testing.assert_array_equal(exported(tmp_path)[k], v, err_msg=k)


@pytest.mark.parametrize("n,devices", [(1, 1), (2, 1)])
def test_restore_onto_another_layout(fsdp4, corpus, tmp_path, n, devices):
  """A checkpoint of fsdp=4 on 4 devices resumes on 1 device and on 2 processes x data=2."""
  source = fsdp4
  wd = tmp_path / "wd"
  shutil.copytree(source, wd, ignore=shutil.ignore_patterns("hf"))
  assert_ok(run(wd, n, devices, *corpus["args"], *ARGS))   # at step N: restore, eval, export
  for k, v in exported(source).items():
    np.testing.assert_array_equal(exported(wd)[k], v, err_msg=k)   # the same parameters


def test_global_batch_change_is_said(straight, corpus, tmp_path):
  wd = tmp_path / "wd"
  shutil.copytree(straight, wd)
  args = [a for a in ARGS if not a.startswith(("--config.num_train_steps", "--config.batch"))]
  (code, out, err), = run(wd, 1, 1, *corpus["args"], *args, "--config.batch_size=16",
                          f"--config.num_train_steps={N + 2}")
  assert code == 0, err[-2000:]
  assert f"global batch 8 -> 16: the data stream continues at example {N * 8}" in out


def _snapshot(workdir):
  return {os.path.relpath(os.path.join(r, f), workdir): os.path.getmtime(os.path.join(r, f))
          for r, _, fs in os.walk(workdir) for f in fs}


BAD = {
    "different configs": (2, [], lambda i: ["--config.learning_rate=0.5"] if i else [],
                          "different config"),
    "batch not a multiple of the processes": (2, ["--config.batch_size=7"], None,
                                              "not a positive multiple"),
    "mesh that does not divide the devices": (2, ["--config.parallel.fsdp=3"], None,
                                              "do not split into fsdp=3"),
    "checkpoint of another model": (2, ["--config.model_overrides.hidden_size=64"], None,
                                    "different model"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_fails_on_every_process(straight, corpus, tmp_path, name):
  n, extra, per_process, message = BAD[name]
  wd = tmp_path / "wd"
  shutil.copytree(straight, wd)
  before = _snapshot(wd)
  result = run(wd, n, 1, *corpus["args"], *ARGS, *extra, per_process=per_process)
  for (code, _, err), lines in zip(result, errors(result)):
    assert code == 2, err[-2000:]
    assert len(lines) == 1 and message in lines[0], err[-2000:]
    assert "Traceback" not in err
  assert _snapshot(wd) == before                                    # nothing touched


@pytest.mark.parametrize("present,message", [(1, "did not answer within 4 s"),
                                             (0, "did not complete within 4 s")])
def test_missing_processes_are_one_error(corpus, tmp_path, present, message):
  """Only process 1 of 2 (its coordinator never answers), or only process 0 (its peers
  never come): it gives up after parallel.init_timeout_s with one line, no hang and
  no C++ stack trace."""
  t0 = time.time()
  (code, _, err), = finish(start(tmp_path, 2, 1, *corpus["args"], *TINY,
                                 "--config.parallel.init_timeout_s=4", only=[present]),
                           timeout=120)
  assert code == 2 and time.time() - t0 < 60, err[-2000:]
  lines = [l for l in err.splitlines() if l.startswith("error:")]
  assert len(lines) == 1 and message in lines[0], err[-2000:]
  assert "Traceback" not in err and "Check failure" not in err
