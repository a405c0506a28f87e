"""Bad input: one clear message, a non-zero exit, and nothing saved overwritten. Each
case fails before anything is written, so all but one run in process."""

import json
import os
import subprocess
import sys

import pytest

import jaxbert
from finetune_testing import REPO, finetune_config, random_params, tiny_config, write_csv
from train import finetune


@pytest.fixture
def workdir(tmp_path):
  """A workdir already holding a run's config.json, which must survive every error."""
  wd = tmp_path / "wd"
  wd.mkdir()
  (wd / "config.json").write_text('{"saved": true}')
  return wd


def unchanged(wd) -> bool:
  return os.listdir(wd) == ["config.json"] and json.loads((wd / "config.json").read_text()) == {
      "saved": True}


def head_init(task, tmp_path, labels: int) -> str:
  model = jaxbert.SequenceClassifier(tiny_config("bert", task["tokenizer"].vocab_size),
                                     num_labels=labels)
  path = str(tmp_path / f"head{labels}")
  jaxbert.save_pretrained(path, model, random_params(model), tokenizer=task["tokenizer"])
  return path


def bad_case(name, task, tmp_path, hf_init) -> tuple[dict, str]:
  """(config overrides, the message expected) of each bad input."""
  rows, dev = task["train_rows"], task["dev_rows"]
  if name == "missing label column":
    path = write_csv(tmp_path / "t.csv", rows, ["text", "score"])
    return {"data.train": path}, f"{path} has no column 'label' (columns: text, score)"
  if name == "missing text column":
    return {"data.text_column": "sentence"}, "has no column 'sentence'"
  if name == "dev label train never saw":
    path = write_csv(tmp_path / "d.csv", dev[:5] + [dict(dev[5], label="neutral")])
    return {"data.dev": path}, f"{path} has labels the training data never has: 'neutral'"
  if name == "empty file":
    path = write_csv(tmp_path / "t.csv", [], ["text", "label"])
    return {"data.train": path}, f"{path} has no examples"
  if name == "zero-byte file":
    (tmp_path / "d.csv").write_text("")
    return {"data.dev": str(tmp_path / "d.csv")}, "has no examples"
  if name == "missing file":
    return {"data.train": str(tmp_path / "nope.csv")}, "does not exist"
  if name == "head with other labels":
    return ({"init": head_init(task, tmp_path, 3)},
            "has a sequence-classification head with 3 labels but the data has 2")
  if name == "pair task given single texts":
    return {"data.pair_column": "question"}, "has no column 'question'"
  if name == "pair missing in a row":
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"text": r["text"], "text_b": r["text_b"],
                                        "label": r["label"]}) + "\n" for r in rows[:3])
                    + json.dumps({"text": "x", "label": "positive"}) + "\n")
    return ({"data.train": str(path), "data.pair_column": "text_b"},
            "example 4 has no 'text_b' value (a pair task given a single text)")
  if name == "init is a fine-tuning workdir":
    import numpy as np
    from train.checkpoint import Checkpointer
    ckpt = Checkpointer(str(tmp_path / "ft" / "checkpoints"), async_save=False)
    ckpt.save(3, {"x": np.zeros(2)}, {}, {"model": {"num_labels": 2}})
    ckpt.close()
    return {"init": str(tmp_path / "ft")}, "is a fine-tuning workdir (a classifier's checkpoints)"
  if name == "unknown best metric":
    return {"best_metric": "pearson"}, "best_metric 'pearson' is not a classification metric"
  if name == "no open rows":
    return {"data.open_rows": 0}, "data.open_rows must be >= 1 (got 0)"
  raise KeyError(name)


CASES = ["missing label column", "missing text column", "dev label train never saw",
         "empty file", "zero-byte file", "missing file", "head with other labels",
         "pair task given single texts", "pair missing in a row",
         "init is a fine-tuning workdir", "unknown best metric", "no open rows"]


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name, task, hf_init, tmp_path, workdir):
  overrides, message = bad_case(name, task, tmp_path, hf_init)
  config = finetune_config(overrides.pop("init", hf_init("bert")), task, **overrides)
  with pytest.raises(ValueError) as e:
    finetune.run(config, str(workdir))
  assert message in " ".join(str(e.value).split())
  assert unchanged(workdir)


def test_command_line_error_line(task, hf_init, tmp_path, workdir):
  path = write_csv(tmp_path / "t.csv", task["train_rows"], ["text", "score"])
  proc = subprocess.run(
      [sys.executable, "-m", "train.finetune", f"--workdir={workdir}",
       f"--config.init={hf_init('bert')}", f"--config.data.train={path}",
       f"--config.data.dev={task['dev']}"],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True,
      timeout=300)
  assert proc.returncode == 2, proc.stderr[-2000:]
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert errors == [f"error: {path} has no column 'label' (columns: text, score); set "
                    "--config.data.label_column"]
  assert "Traceback" not in proc.stderr
  assert unchanged(workdir)
