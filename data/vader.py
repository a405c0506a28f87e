"""VADER's gold sentences as binary sentiment and as regression: `python -m data.vader --out=DIR`.

Hutto & Gilbert (2014), "VADER: A Parsimonious Rule-based Model for Sentiment Analysis
of Social Media Text", ICWSM-14. The vadersentiment 3.3.2 source distribution (MIT
licence) carries additional_resources/hutto_ICWSM_2014.tar.gz, whose four
*_GroundTruth.txt files hold 23,703 texts, each with the mean of 20 or more human
ratings on -4 (extremely negative) .. +4 (extremely positive):

  file in hutto_ICWSM_2014/               domain    texts
  tweets_GroundTruth.txt                  tweets    4,200
  movieReviewSnippets_GroundTruth.txt     movies   10,605
  nytEditorialSnippets_GroundTruth.txt    nyt       5,190
  amazonReviewSnippets_GroundTruth.txt    amazon    3,708

Each line is `ID<TAB>MEAN<TAB>TEXT`, UTF-8, CRLF line ends. Texts are kept as written,
except that the HTML escapes `&amp;`, `&lt;` and `&gt;` (left in by the tweet source
237 texts in all) become `&`, `<` and `>`.

Writes, under --out (split: data/splits.py, 10% dev by the hash of the text):

  vader-binary/{train,dev}.csv      text,label   label "negative" or "positive"
  vader-regression/{train,dev}.csv  text,score   the mean rating, a float in -4..+4

Binary rule: score >= +0.5 is "positive", score <= -0.5 is "negative"; the texts with
|score| < 0.5 (about neutral: under half a point from 0 on the 9-point scale) are left
out of the binary task and kept in the regression. --neutral changes the 0.5.

Without --source, pip downloads the sdist into a temporary directory (the one network
access; its SHA-256 is checked). --source takes the sdist or the inner tarball.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from typing import NamedTuple

from data import splits

REQUIREMENT = "vadersentiment==3.3.2"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER_TARBALL = "additional_resources/hutto_ICWSM_2014.tar.gz"
DOMAINS = {  # file in hutto_ICWSM_2014/ -> domain
    "tweets_GroundTruth.txt": "tweets",
    "movieReviewSnippets_GroundTruth.txt": "movies",
    "nytEditorialSnippets_GroundTruth.txt": "nyt",
    "amazonReviewSnippets_GroundTruth.txt": "amazon",
}
EXPECTED_TEXTS = 23_703
NEUTRAL = 0.5
LABELS = ("negative", "positive")
HTML_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


class Sentence(NamedTuple):
  domain: str
  id: str      # the file's ID column, e.g. "17" or "3_12" (review 3, sentence 12)
  text: str
  score: float


def clean(text: str) -> str:
  for escape, char in HTML_ESCAPES:
    text = text.replace(escape, char)
  return text.strip()


def parse_ground_truth(content: str, domain: str) -> list[Sentence]:
  """The rows of one *_GroundTruth.txt file (its decoded text)."""
  sentences = []
  for number, line in enumerate(content.lstrip("\ufeff").splitlines(), 1):
    if not line.strip():
      continue
    fields = line.split("\t", 2)
    if len(fields) != 3:
      raise ValueError(f"{domain} line {number}: expected ID<TAB>MEAN<TAB>TEXT, got {line[:60]!r}")
    sentences.append(Sentence(domain, fields[0].strip(), clean(fields[2]), float(fields[1])))
  return sentences


def binary_label(score: float, neutral: float = NEUTRAL) -> str | None:
  """"positive" for score >= neutral, "negative" for score <= -neutral, else None."""
  if score >= neutral:
    return "positive"
  if score <= -neutral:
    return "negative"
  return None


def _member(archive: tarfile.TarFile, suffix: str) -> tarfile.TarInfo | None:
  for info in archive.getmembers():
    if info.isfile() and ("/" + info.name).endswith("/" + suffix):
      return info
  return None


def read_source(path: str) -> list[Sentence]:
  """Every sentence of the four domains, from the sdist or from hutto_ICWSM_2014.tar.gz."""
  with tarfile.open(path) as archive:
    inner = _member(archive, INNER_TARBALL)
    if inner is not None:
      with tarfile.open(fileobj=io.BytesIO(archive.extractfile(inner).read())) as dataset:
        return _read_dataset(dataset, path)
    return _read_dataset(archive, path)


def _read_dataset(archive: tarfile.TarFile, path: str) -> list[Sentence]:
  sentences = []
  for name, domain in DOMAINS.items():
    info = _member(archive, name)
    if info is None:
      raise ValueError(f"{path} holds no {name} (nor {INNER_TARBALL})")
    sentences += parse_ground_truth(archive.extractfile(info).read().decode("utf-8"), domain)
  return sentences


def download_sdist(directory: str) -> str:
  """pip downloads the sdist into `directory`; returns its path once its SHA-256 checks."""
  subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                  "--no-binary", ":all:", REQUIREMENT, "--dest", directory], check=True)
  (name,) = [n for n in os.listdir(directory) if n.lower().startswith("vadersentiment")]
  path = os.path.join(directory, name)
  with open(path, "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
  if digest != SDIST_SHA256:
    raise ValueError(f"{name} has SHA-256 {digest}, expected {SDIST_SHA256}")
  return path


def rows_of(sentences: list[Sentence], neutral: float = NEUTRAL) -> tuple[list[dict], list[dict]]:
  """(binary rows with "label", regression rows with "score"), each with its "domain"."""
  binary, regression = [], []
  for s in sentences:
    regression.append({"text": s.text, "score": repr(s.score), "domain": s.domain})
    label = binary_label(s.score, neutral)
    if label is not None:
      binary.append({"text": s.text, "label": label, "domain": s.domain})
  return binary, regression


def write_tasks(sentences: list[Sentence], out: str, neutral: float = NEUTRAL,
                dev_percent: int = splits.DEV_PERCENT) -> dict[str, dict[str, list[dict]]]:
  """Writes vader-binary/ and vader-regression/ under `out`; returns each task's splits."""
  binary, regression = rows_of(sentences, neutral)
  return {
      "vader-binary": splits.write_task(out, "vader-binary", ("text", "label"), binary,
                                        dev_percent),
      "vader-regression": splits.write_task(out, "vader-regression", ("text", "score"),
                                            regression, dev_percent),
  }


def write_slices(sentences: list[Sentence], directory: str, per_cell: int,
                 neutral: float = NEUTRAL) -> dict[str, int]:
  """The test fixtures: `per_cell` texts per (domain, label) for the binary slice and
  2 * `per_cell` per domain for the regression slice, the first in hash order."""
  binary, regression = rows_of(sentences, neutral)
  for row in binary:
    row["cell"] = row["domain"] + "/" + row["label"]
  files = {"vader_slice.csv": (("text", "label"), splits.slice_rows(binary, "cell", per_cell)),
           "vader_scores_slice.csv": (("text", "score"),
                                      splits.slice_rows(regression, "domain", 2 * per_cell))}
  return {name: splits.write_csv(os.path.join(directory, name), columns, splits.by_hash(rows))
          for name, (columns, rows) in files.items()}


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(prog="python -m data.vader", description=__doc__.split("\n")[0])
  parser.add_argument("--out", required=True, help="directory for vader-binary/ and vader-regression/")
  parser.add_argument("--source", help="the sdist or hutto_ICWSM_2014.tar.gz (default: pip downloads it)")
  parser.add_argument("--neutral", type=float, default=NEUTRAL,
                      help="binary task: |score| below this is left out (default %(default)s)")
  parser.add_argument("--dev_percent", type=int, default=splits.DEV_PERCENT)
  parser.add_argument("--slices", help="also write the test slices into this directory")
  parser.add_argument("--slice_per_cell", type=int, default=25)
  args = parser.parse_args(argv)

  try:
    with tempfile.TemporaryDirectory() as tmp:
      sentences = read_source(args.source or download_sdist(tmp))
  except (OSError, ValueError, tarfile.TarError, subprocess.CalledProcessError) as e:
    sys.exit("error: " + " ".join(str(e).split()))
  if len(sentences) != EXPECTED_TEXTS:
    sys.exit(f"error: read {len(sentences):,} texts, expected {EXPECTED_TEXTS:,}")
  print(f"{len(sentences):,} texts from {REQUIREMENT}")
  tasks = write_tasks(sentences, args.out, args.neutral, args.dev_percent)
  for name, task in tasks.items():
    n = sum(len(rows) for rows in task.values())
    print(f"\n{os.path.join(args.out, name)}/{{train,dev}}.csv: {n:,} rows")
    if name == "vader-binary":
      print(splits.count_table(task, "label"))
      print(f"  left out as neutral (|score| < {args.neutral}): {len(sentences) - n:,}")
    print(splits.count_table(task, "domain"))
  if args.slices:
    for name, n in write_slices(sentences, args.slices, args.slice_per_cell, args.neutral).items():
      print(f"\n{os.path.join(args.slices, name)}: {n} rows")


if __name__ == "__main__":
  main()
