"""WordNet 3.0 glosses labelled with their lexicographer file: `python -m data.wordnet --out=DIR`.

Miller (1995), "WordNet: A Lexical Database for English", CACM 38(11). The Debian
package wordnet-base (WordNet 3.0 licence, data/README.md) installs the database files
data.noun, data.verb, data.adj and data.adv: 117,659 synsets, each with a gloss and
the number of the lexicographer file it was written in, one of 45 named in lexnames(5WN)
(noun.animal, verb.motion, adj.all, ...: the "supersenses").

A data line (wndb(5WN)) is

  synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id ...] p_cnt [ptr ...] [frames ...] | gloss

e.g. `00001740 02 r 01 a_cappella 0 000 | without musical accompaniment; "they performed
a cappella"`. The licence's lines at the top of each file start with two spaces. The
text of a row is the whole gloss: the definition and its quoted examples, if any.

Writes, under --out (split: data/splits.py, 10% dev by the hash of the gloss):

  wordnet-supersense/{train,dev}.csv  text,label  label: the lexicographer file, 45 values
  wordnet-pos/{train,dev}.csv         text,label  label: noun | verb | adj | adv, its prefix

With --corpus=FILE it also writes the glosses as an unlabelled pretraining corpus in
BERT's format (one sentence per line, a blank line between documents): a synset's line
is its words and its definition, "good, well: resulting favorably.", then one line per
quoted example; 8 synsets of one lexicographer file make a document. A definition ties
a word to words of the same meaning, which co-occurrence alone does not: in running text
"good" and "bad" share their contexts (README, "Downstream").

Without --dict, the files are read from wordnet-base's install directory if it is
installed, else `apt-get download wordnet-base` and `dpkg-deb -x` fetch them into a
temporary directory (after one `apt-get update`; the one network access).
"""

from __future__ import annotations

import argparse
import glob
import itertools
import os
import re
import subprocess
import sys
import tempfile
from typing import NamedTuple

from data import splits

PACKAGE = "wordnet-base"
INSTALLED = "/usr/share/wordnet"   # where Debian's wordnet-base puts the database
FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
EXPECTED_SYNSETS = 117_659
# lexnames(5WN): the lexicographer file of each lex_filenum, 00..44.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal",
    "noun.artifact", "noun.attribute", "noun.body", "noun.cognition", "noun.communication",
    "noun.event", "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive",
    "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
    "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state",
    "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption", "verb.contact",
    "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession",
    "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
POS = ("noun", "verb", "adj", "adv")


class Synset(NamedTuple):
  offset: str     # byte offset in its data.* file: the synset's id within the file
  lexname: str    # e.g. "noun.animal"
  ss_type: str    # n, v, a, s (adjective satellite) or r
  gloss: str
  words: tuple[str, ...] = ()   # its lemmas, "_" read as a space, without "(a)"-style markers


def parse_line(line: str) -> Synset | None:
  """One line of a data.* file; None for the licence header and blank lines."""
  if not line.strip() or line.startswith("  "):
    return None
  head, sep, gloss = line.partition(" | ")
  fields = head.split()
  if not sep or len(fields) < 4:
    raise ValueError(f"not a data.* line: {line[:60]!r}")
  lex_filenum = int(fields[1])
  if not 0 <= lex_filenum < len(LEXNAMES):
    raise ValueError(f"synset {fields[0]}: lex_filenum {lex_filenum} is not in lexnames")
  count = int(fields[3], 16)   # w_cnt: two hexadecimal digits, then (word, lex_id) pairs
  words = tuple(re.sub(r"\(\w+\)$", "", w).replace("_", " ") for w in fields[4:4 + 2 * count:2])
  return Synset(fields[0], LEXNAMES[lex_filenum], fields[2], gloss.strip(), words)


def parse_data(content: str) -> list[Synset]:
  return [s for s in map(parse_line, content.splitlines()) if s is not None]


def read_dict(directory: str) -> list[Synset]:
  """The synsets of data.noun, data.verb, data.adj and data.adv under `directory`."""
  synsets = []
  for name in FILES:
    with open(os.path.join(directory, name), encoding="utf-8") as f:
      synsets += parse_data(f.read())
  return synsets


def fetch_package(directory: str) -> str:
  """apt-get downloads wordnet-base into `directory` and unpacks it; returns its dict dir."""
  subprocess.run(["apt-get", "download", PACKAGE], cwd=directory, check=True)
  (deb,) = glob.glob(os.path.join(directory, PACKAGE + "_*.deb"))
  subprocess.run(["dpkg-deb", "-x", deb, os.path.join(directory, "root")], check=True)
  return os.path.join(directory, "root", INSTALLED.lstrip("/"))


def rows_of(synsets: list[Synset]) -> list[dict]:
  return [{"text": s.gloss, "label": s.lexname, "pos": s.lexname.split(".")[0]}
          for s in synsets]


def write_tasks(synsets: list[Synset], out: str,
                dev_percent: int = splits.DEV_PERCENT) -> dict[str, dict[str, list[dict]]]:
  """Writes wordnet-supersense/ and wordnet-pos/ under `out`; returns each task's splits."""
  rows = rows_of(synsets)
  pos_rows = [{"text": r["text"], "label": r["pos"]} for r in rows]
  return {
      "wordnet-supersense": splits.write_task(out, "wordnet-supersense", ("text", "label"),
                                              rows, dev_percent),
      "wordnet-pos": splits.write_task(out, "wordnet-pos", ("text", "label"), pos_rows,
                                       dev_percent),
  }


def corpus_sentences(synset: Synset) -> list[str]:
  """A synset as corpus lines: "word, word: definition." and each quoted example."""
  parts = [p.strip() for p in synset.gloss.split(";") if p.strip()]
  definition = "; ".join(p for p in parts if not p.startswith('"'))
  examples = [p.strip('"').strip() for p in parts if p.startswith('"')]
  end = lambda text: text if text.endswith((".", "!", "?")) else text + "."
  return [end(", ".join(synset.words) + ": " + definition)] + [end(e) for e in examples if e]


def _chunks(items: list, n: int) -> list[list]:
  return [items[i:i + n] for i in range(0, len(items), n)]


def write_corpus(synsets: list[Synset], path: str, per_document: int = 8) -> int:
  """The glosses as a BERT-format corpus file (module docstring); returns its documents.
  Written to PATH.partial, then renamed: an interrupted run leaves no half corpus."""
  by_file = sorted(synsets, key=lambda s: LEXNAMES.index(s.lexname))   # stable: file order
  groups = itertools.groupby(by_file, key=lambda s: s.lexname)
  documents = [chunk for _, group in groups for chunk in _chunks(list(group), per_document)]
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + ".partial", "w", encoding="utf-8") as f:
    for chunk in documents:
      f.write("".join(line + "\n" for s in chunk for line in corpus_sentences(s)) + "\n")
  os.replace(path + ".partial", path)
  return len(documents)


def write_slice(synsets: list[Synset], directory: str, per_label: int) -> int:
  """The test fixture wordnet_slice.csv: `per_label` glosses of each of the 45 files."""
  rows = splits.slice_rows(rows_of(synsets), "label", per_label)
  return splits.write_csv(os.path.join(directory, "wordnet_slice.csv"), ("text", "label"),
                          splits.by_hash(rows))


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(prog="python -m data.wordnet", description=__doc__.split("\n")[0])
  parser.add_argument("--out", required=True, help="directory for wordnet-supersense/ and wordnet-pos/")
  parser.add_argument("--corpus", help="also write the glosses as a pretraining corpus file "
                      "(BERT format), e.g. data_cache/corpus/wordnet.txt")
  parser.add_argument("--dict", help="directory holding data.noun, data.verb, data.adj, data.adv "
                      f"(default: {INSTALLED} if present, else apt-get download {PACKAGE})")
  parser.add_argument("--dev_percent", type=int, default=splits.DEV_PERCENT)
  parser.add_argument("--slices", help="also write the test slice into this directory")
  parser.add_argument("--slice_per_label", type=int, default=8)
  args = parser.parse_args(argv)

  try:
    with tempfile.TemporaryDirectory() as tmp:
      directory = source = args.dict
      if directory is None:
        installed = all(os.path.exists(os.path.join(INSTALLED, f)) for f in FILES)
        directory = INSTALLED if installed else fetch_package(tmp)
        source = f"{PACKAGE} ({'installed' if installed else 'apt-get download'})"
      synsets = read_dict(directory)
  except (OSError, ValueError, subprocess.CalledProcessError) as e:
    sys.exit("error: " + " ".join(str(e).split()))
  if len(synsets) != EXPECTED_SYNSETS:
    sys.exit(f"error: read {len(synsets):,} synsets, expected {EXPECTED_SYNSETS:,}")
  print(f"{len(synsets):,} glosses from {source}")
  for name, task in write_tasks(synsets, args.out, args.dev_percent).items():
    n = sum(len(rows) for rows in task.values())
    print(f"\n{os.path.join(args.out, name)}/{{train,dev}}.csv: {n:,} rows")
    print(splits.count_table(task, "label"))
  if args.corpus:
    n = write_corpus(synsets, args.corpus)
    print(f"\n{args.corpus}: {n:,} documents of glosses (pretraining corpus, BERT format)")
  if args.slices:
    n = write_slice(synsets, args.slices, args.slice_per_label)
    print(f"\n{os.path.join(args.slices, 'wordnet_slice.csv')}: {n} rows")


if __name__ == "__main__":
  main()
