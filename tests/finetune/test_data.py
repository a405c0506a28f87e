"""Reading labelled data: CSV, TSV and JSONL give the same examples; label spaces
(classes sorted as numbers when they are, regression for non-integer numbers);
GLUE from TFDS (tfds.testing.mock_data: no download) with its columns and classes."""

import json

import ml_collections
import numpy as np
import pytest

from jaxbert.data import labelled
from train import finetune

COLUMNS = dict(text_column="text", pair_column="text_b", label_column="label")


def test_formats_read_the_same(tmp_path):
  rows = [{"text": 'say "hi", then', "text_b": "b\tc" if i else "", "label": str(i % 3)}
          for i in range(5)]
  import csv
  with open(tmp_path / "x.csv", "w", newline="") as f:
    w = csv.DictWriter(f, ["text", "text_b", "label"])
    w.writeheader()
    w.writerows(rows)
  (tmp_path / "x.tsv").write_text("text\ttext_b\tlabel\n" + "".join(
      f"{r['text']}\t{r['text_b'].replace(chr(9), ' ')}\t{r['label']}\n" for r in rows))
  (tmp_path / "x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  read = {ext: labelled.read_examples(str(tmp_path / f"x.{ext}"), **COLUMNS)
          for ext in ("csv", "tsv", "jsonl")}
  for ext, ex in read.items():
    assert ex.texts == [r["text"] for r in rows], ext
    assert ex.labels == [r["label"] for r in rows], ext
  assert read["csv"].pairs == read["jsonl"].pairs == [r["text_b"] for r in rows]
  assert read["tsv"].pairs[1] == "b c"


def test_label_spaces():
  ex = lambda labels: labelled.Examples(texts=["t"] * len(labels), pairs=None,
                                        labels=labels, source="s")
  assert labelled.label_space(ex(["10", "2", "1", "2"])).names == ("1", "2", "10")
  assert labelled.label_space(ex([1, 0, 1])).names == ("0", "1")               # JSON ints
  assert labelled.label_space(ex(["b", "a"])).names == ("a", "b")
  assert labelled.label_space(ex(["1.5", "-2", "0"])).regression
  assert labelled.label_space(ex(["1", "2"]), "regression").regression
  assert labelled.label_ids(ex(["0.5", "1"]), labelled.LabelSpace(())).dtype == np.float32
  with pytest.raises(ValueError, match="at least two classes"):
    labelled.label_space(ex(["a", "a"]))
  with pytest.raises(ValueError, match="regression labels must be numbers, got 'x'"):
    labelled.label_space(ex(["1.5", "x"]), "regression")


def test_glue_from_tfds():
  tfds = pytest.importorskip("tensorflow_datasets")
  import tensorflow_datasets.text.glue  # noqa: F401  (registers glue)
  d = ml_collections.ConfigDict(dict(train="tfds:glue/mrpc", dev="", text_column="text",
                                     pair_column="", label_column="label", task="auto",
                                     tfds_data_dir=""))
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    train, dev, space = finetune.read_data(d)
    source = tfds.data_source("glue/mrpc", split="validation", download=False)
    want = [int(source[i]["label"]) for i in range(len(source))]
  assert space.names == ("not_equivalent", "equivalent")       # the dataset's class order
  assert train.source == "tfds:glue/mrpc:train" and dev.source == "tfds:glue/mrpc:validation"
  assert train.pairs is not None and len(train.texts) == 12     # sentence1, sentence2
  assert labelled.label_ids(dev, space).tolist() == want
