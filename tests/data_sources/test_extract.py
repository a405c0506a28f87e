"""The extraction scripts of data/ on tiny raw files built here, and the committed slices.

No network: the VADER tarball and the WordNet data.* lines are written by the tests in
the sources' formats (data/vader.py, data/wordnet.py give them).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:  # data/ is a top-level folder of the repository, not installed
  sys.path.insert(0, REPO)

from data import splits, vader, wordnet  # pylint: disable=wrong-import-position

FIXTURES = os.path.join(REPO, "tests", "fixtures")

# A few lines per domain in *_GroundTruth.txt's format: ID, mean rating, text; CRLF ends.
GROUND_TRUTH = {
    "tweets_GroundTruth.txt": "1\t2.726315789\tSo lucky &amp; so happy :)\r\n"
                              "2\t0.4999\tJust a Tuesday.\r\n"
                              "3\t-0.5\tMeh &lt;sigh&gt;\r\n",
    "movieReviewSnippets_GroundTruth.txt": "1\t2.26666666667\tThe Rock is destined to rule.\r\n"
                                           "2\t-3.875\tA waste of film.\r\n"
                                           "3\t0.5\tWatchable.",   # no line end at the end
    "nytEditorialSnippets_GroundTruth.txt": "1_1\t0.15\tEvents include sprinting.\r\n"
                                            "1_2\t-0.4999\tThe city plans a vote.\r\n",
    "amazonReviewSnippets_GroundTruth.txt": "\ufeff1_1\t-0.9\tno picture\tat all.\r\n"
                                            "\r\n"
                                            "1_2\t3.85\tLove it!\r\n",
}

# data.* lines: a licence header line, then synsets (noun, verb with frames, satellite
# adjective, adverb), in the format of the real files, trailing two spaces included.
DATA_LINES = (
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "00015388 03 n 01 animal 0 002 @ 00004475 n 0000 ~ 01317541 n 0000 | a living organism "
    "characterized by voluntary movement  \n"
    "01835496 38 v 02 travel 0 go 0 001 @ 01831531 v 0000 01 + 08 00 | change location; "
    'move, travel, or proceed; "How fast does your new car go?"  \n'
    "00004171 44 s 01 shrunken 0 001 & 00003939 a 0000 | reduced in size  \n"
    "00001740 02 r 01 a_cappella 0 000 | without musical accompaniment; "
    '"they performed a cappella"  \n'
)


def _tar_bytes(files: dict[str, bytes]) -> bytes:
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
    for name, content in files.items():
      info = tarfile.TarInfo(name)
      info.size = len(content)
      archive.addfile(info, io.BytesIO(content))
  return buffer.getvalue()


@pytest.fixture
def vader_sdist(tmp_path):
  """An sdist-shaped tarball holding hutto_ICWSM_2014.tar.gz with the four files."""
  inner = _tar_bytes({f"hutto_ICWSM_2014/{name}": text.encode("utf-8")
                      for name, text in GROUND_TRUTH.items()})
  path = tmp_path / "vaderSentiment-3.3.2.tar.gz"
  path.write_bytes(_tar_bytes({f"vaderSentiment-3.3.2/{vader.INNER_TARBALL}": inner,
                               "vaderSentiment-3.3.2/setup.py": b""}))
  return str(path)


def _read(path):
  with open(path, encoding="utf-8", newline="") as f:
    return list(csv.DictReader(f))


def test_vader_parse(vader_sdist):
  sentences = vader.read_source(vader_sdist)
  assert len(sentences) == 10
  assert [s.domain for s in sentences] == ["tweets"] * 3 + ["movies"] * 3 + ["nyt"] * 2 + ["amazon"] * 2
  assert sentences[0] == vader.Sentence("tweets", "1", "So lucky & so happy :)", 2.726315789)
  assert sentences[2].text == "Meh <sigh>"
  assert sentences[5].text == "Watchable."
  assert sentences[8] == vader.Sentence("amazon", "1_1", "no picture\tat all.", -0.9)  # BOM, tab in text


@pytest.mark.parametrize("score,label", [
    (2.7, "positive"), (0.5, "positive"), (0.4999, None), (0.0, None), (-0.4999, None),
    (-0.5, "negative"), (-3.875, "negative"),
])
def test_vader_neutral_rule(score, label):
  assert vader.binary_label(score) == label


def test_vader_tasks(vader_sdist, tmp_path):
  sentences = vader.read_source(vader_sdist)
  tasks = vader.write_tasks(sentences, str(tmp_path))
  binary = _read(tmp_path / "vader-binary" / "train.csv") + _read(tmp_path / "vader-binary" / "dev.csv")
  assert sorted((r["text"], r["label"]) for r in binary) == sorted([
      ("So lucky & so happy :)", "positive"), ("Meh <sigh>", "negative"),
      ("The Rock is destined to rule.", "positive"), ("A waste of film.", "negative"),
      ("Watchable.", "positive"), ("no picture\tat all.", "negative"), ("Love it!", "positive")])
  regression = (_read(tmp_path / "vader-regression" / "train.csv")
                + _read(tmp_path / "vader-regression" / "dev.csv"))
  assert list(regression[0]) == ["text", "score"]
  assert sorted(float(r["score"]) for r in regression) == sorted(s.score for s in sentences)
  for task in tasks.values():
    for split, rows in task.items():
      assert all(splits.split_of(r["text"]) == split for r in rows)


def test_split_rule():
  assert splits.split_of("x", dev_percent=0) == "train"
  assert splits.split_of("x", dev_percent=100) == "dev"
  texts = [f"sentence number {i}" for i in range(2000)]
  dev = [t for t in texts if splits.split_of(t) == "dev"]
  assert 150 < len(dev) < 250                          # 10% of 2000, within sampling noise
  assert dev == [t for t in texts if splits.split_of(t) == "dev"]   # no state, no seed


def test_wordnet_parse(tmp_path):
  synsets = wordnet.parse_data(DATA_LINES)
  assert [(s.offset, s.lexname, s.ss_type) for s in synsets] == [
      ("00015388", "noun.Tops", "n"), ("01835496", "verb.motion", "v"),
      ("00004171", "adj.ppl", "s"), ("00001740", "adv.all", "r")]
  assert synsets[0].gloss == "a living organism characterized by voluntary movement"
  assert synsets[1].gloss == 'change location; move, travel, or proceed; "How fast does your new car go?"'
  assert len(wordnet.LEXNAMES) == 45 and wordnet.LEXNAMES[18] == "noun.person"
  with pytest.raises(ValueError, match="lex_filenum 45"):
    wordnet.parse_line("00000001 45 n 01 thing 0 000 | a gloss")

  for name in wordnet.FILES:
    (tmp_path / name).write_text(DATA_LINES if name == "data.noun" else "")
  wordnet.write_tasks(wordnet.read_dict(str(tmp_path)), str(tmp_path / "out"))
  pos = {r["text"]: r["label"] for split in splits.SPLITS
         for r in _read(tmp_path / "out" / "wordnet-pos" / f"{split}.csv")}
  assert sorted(pos.values()) == ["adj", "adv", "noun", "verb"]
  assert pos["reduced in size"] == "adj"
  assert [s.words for s in synsets] == [("animal",), ("travel", "go"), ("shrunken",),
                                        ("a cappella",)]
  assert wordnet.parse_line("00003939 00 a 01 beautiful(a) 0 000 | pleasing").words == ("beautiful",)


def test_wordnet_corpus(tmp_path):
  """--corpus: the glosses as a BERT-format corpus, read back by the corpus reader."""
  from jaxbert.data import corpus   # pylint: disable=g-import-not-at-top
  synsets = wordnet.parse_data(DATA_LINES) * 5   # 20 synsets: 5 per lexicographer file
  path = str(tmp_path / "c" / "wordnet.txt")
  assert wordnet.write_corpus(synsets, path, per_document=4) == 8   # 5 a file: 4 + 1
  docs = corpus.read_documents(path)
  assert corpus.read_documents(path, "bert") == docs
  # In lexicographer-file order: adv.all (02), noun.Tops (03), verb.motion (38), adj.ppl (44).
  cappella = ["a cappella: without musical accompaniment.", "they performed a cappella."]
  animal = ["animal: a living organism characterized by voluntary movement."]
  travel = ["travel, go: change location; move, travel, or proceed.",
            "How fast does your new car go?"]
  shrunken = ["shrunken: reduced in size."]
  assert docs == [cappella * 4, cappella, animal * 4, animal, travel * 4, travel,
                  shrunken * 4, shrunken]
  assert not os.path.exists(path + ".partial")


@pytest.mark.parametrize("name,columns,labels", [
    ("vader_slice.csv", ["text", "label"], set(vader.LABELS)),
    ("vader_scores_slice.csv", ["text", "score"], None),
    ("wordnet_slice.csv", ["text", "label"], set(wordnet.LEXNAMES)),
])
def test_committed_slices(name, columns, labels):
  rows = _read(os.path.join(FIXTURES, name))
  assert 100 <= len(rows) <= 500
  assert list(rows[0]) == columns
  assert all(r["text"].strip() for r in rows)
  if labels is None:
    scores = [float(r["score"]) for r in rows]
    assert all(-4 <= s <= 4 for s in scores) and min(scores) < -2 and max(scores) > 2
  else:
    assert {r["label"] for r in rows} == labels
