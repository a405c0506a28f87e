"""`python -m train.finetune` end to end, in process, on the synthetic sentiment task:
it learns (above the majority class), keeps and exports the best evaluation, stops
early, resumes, and its exports load in transformers with jaxbert's logits."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

import jaxbert
from finetune_testing import LENGTH, finetune_config, random_params, tiny_config
from jaxbert.data import labelled, packing
from train import finetune

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TOL = 1e-5


def eval_records(workdir) -> list[dict]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [r for r in map(json.loads, f) if r["split"] == "eval"]


def torch_logits(hf_dir, texts, pairs=None):
  """(input ids, attention mask, logits) of the export through transformers' Auto classes."""
  tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
  model = transformers.AutoModelForSequenceClassification.from_pretrained(hf_dir).eval()
  enc = tok(texts, pairs, truncation="longest_first", max_length=LENGTH, padding="max_length",
            return_tensors="pt")
  with torch.no_grad():
    logits = model(**enc).logits.numpy()
  return enc["input_ids"].numpy(), enc["attention_mask"].numpy(), logits, model.config


def test_learns_keeps_the_best_and_exports(task, workdir_init, tmp_path, capsys):
  wd = str(tmp_path / "wd")
  config = finetune_config(workdir_init, task, learning_rate=1e-2, num_epochs=4)
  s = finetune.run(config, wd)
  out = capsys.readouterr().out
  dev_labels = [r["label"] for r in task["dev_rows"]]
  majority = max(dev_labels.count(c) for c in set(dev_labels)) / len(dev_labels)
  best = s["best"]["metrics"]
  assert best["accuracy"] >= majority + 0.2, (best, majority)
  assert s["majority"] == pytest.approx(majority)

  # Truncation: one line with the count of texts longer than LENGTH with [CLS] and [SEP].
  long = sum(len(task["tokenizer"].encode(r["text"])) + 2 > LENGTH for r in task["train_rows"])
  assert long > 0
  assert f"{long} train and 0 dev texts truncated to {LENGTH} tokens" in out
  # One evaluation per epoch; the best is the one kept.
  records = eval_records(wd)
  epoch = records[0]["step"]
  assert [r["step"] for r in records] == [epoch * (i + 1) for i in range(len(records))]
  top = max(records, key=lambda r: r["accuracy"])
  assert s["best"]["step"] == top["step"] and best["accuracy"] == top["accuracy"]
  assert {"loss", "accuracy", "f1", "mcc"} <= set(best)

  # The export: the best parameters, label names, the tokenizer; transformers' logits.
  hf = os.path.join(wd, "hf")
  ids, mask, theirs, hf_config = torch_logits(hf, [r["text"] for r in task["dev_rows"]])
  assert hf_config.architectures == ["BertForSequenceClassification"]
  assert hf_config.id2label == {0: "negative", 1: "positive"}
  labels = np.array([hf_config.label2id[l] for l in dev_labels])
  assert float((theirs.argmax(-1) == labels).mean()) == best["accuracy"]
  model, params = jaxbert.from_pretrained(hf)
  ours = model.apply({"params": params}, jnp.asarray(ids), attention_mask=jnp.asarray(mask),
                     token_type_ids=jnp.zeros_like(jnp.asarray(ids))).logits
  assert np.abs(np.asarray(ours) - theirs).max() <= TOL
  # AutoTokenizer's ids are the fine-tuning's.
  space = labelled.LabelSpace(("negative", "positive"))
  dev = labelled.read_examples(task["dev"], text_column="text", pair_column="",
                               label_column="label")
  enc = labelled.encode(dev, space, task["tokenizer"], LENGTH)
  batch = packing.make_batch(enc, [np.array([i]) for i in range(len(enc))], LENGTH, 1,
                             packed=False, token_types=True)
  np.testing.assert_array_equal(batch["input_ids"], ids)
  classify = transformers.pipeline("text-classification", model=hf, device="cpu")
  assert {p["label"] for p in classify(dev.texts[:4])} <= {"negative", "positive"}


def test_regression_from_hugging_face(task, hf_init, tmp_path):
  """DistilBERT (no pooler, no token types) from a Hugging Face directory, on the score
  column: Pearson and Spearman, the export a regression DistilBertForSequenceClassification."""
  wd = str(tmp_path / "wd")
  config = finetune_config(hf_init("distilbert"), task, learning_rate=1e-2, num_epochs=3,
                           **{"data.label_column": "score"})
  s = finetune.run(config, wd)
  assert s["kind"] == "regression" and s["best_metric"] == "pearson"
  best = s["best"]["metrics"]
  assert set(best) == {"loss", "pearson", "spearman"} and best["pearson"] > 0.5, best
  texts = [r["text"] for r in task["dev_rows"]]
  _, _, theirs, hf_config = torch_logits(os.path.join(wd, "hf"), texts)
  assert hf_config.architectures == ["DistilBertForSequenceClassification"]
  assert hf_config.problem_type == "regression" and theirs.shape == (len(texts), 1)
  scores = np.array([float(r["score"]) for r in task["dev_rows"]])
  assert float(((theirs[:, 0] - scores) ** 2).mean()) == pytest.approx(best["loss"], rel=1e-4)


def test_head_kept_early_stop_and_resume(task, tmp_path, capsys):
  """An ALBERT classifier with the data's labels (in another order) keeps its head and
  its label order; with a learning rate too small to change a prediction the run stops
  after `patience` epochs without improvement; run again, it only exports."""
  cfg = tiny_config("albert", task["tokenizer"].vocab_size)
  source = jaxbert.SequenceClassifier(cfg, num_labels=2, labels=("positive", "negative"))
  init = str(tmp_path / "init")
  source_params = random_params(source, seed=4)
  jaxbert.save_pretrained(init, source, source_params, tokenizer=task["tokenizer"])
  wd = str(tmp_path / "wd")
  config = finetune_config(init, task, learning_rate=1e-9, num_epochs=5, patience=1,
                           **{"data.pack": False})
  s = finetune.run(config, wd)
  epoch = s["best"]["step"]
  assert s["early_stop"] == 2 * epoch and s["step"] == 2 * epoch
  assert "early stop at step" in capsys.readouterr().out
  exported = json.load(open(os.path.join(wd, "hf", "config.json")))
  assert exported["id2label"] == {"0": "positive", "1": "negative"}
  _, params = jaxbert.from_pretrained(os.path.join(wd, "hf"))
  np.testing.assert_allclose(params["head"]["classifier"]["kernel"],
                             source_params["head"]["classifier"]["kernel"], atol=1e-6)

  os.remove(os.path.join(wd, "hf", "model.safetensors"))
  again = finetune.run(finetune_config(init, task, learning_rate=1e-9, num_epochs=5,
                                       patience=1, **{"data.pack": False}), wd)
  assert again["step"] == s["step"] and again["early_stop"] == s["early_stop"]
  assert "stopped early" in capsys.readouterr().out
  assert os.path.exists(os.path.join(wd, "hf", "model.safetensors"))
