"""ALBERT's vocabulary: a SentencePiece Unigram model (Kudo 2018; Lan et al. 2020, section 4.1).

ALBERT tokenises with a 30k-piece Unigram language model trained by SentencePiece: a
text is cut into the pieces of highest total log-probability, "▁" marks a piece that
starts a word, and the specials come first:

  <pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4

The pipeline, as transformers builds it from ALBERT's spiece.model
(convert_slow_tokenizer.AlbertConverter), with whitespace cleaned as ALBERT's own
tokenizer does before SentencePiece (tokenization_albert.AlbertTokenizer.preprocess_text):

  normaliser      `` and '' -> "; uncased: NFKD, accents stripped, lowercase; then
                  whitespace runs -> one space, the ends stripped
                  (+ the model file's precompiled character map, when loaded from one)
  pre-tokeniser   Metaspace: spaces -> "▁", and a "▁" before the text
  model           Unigram over the pieces' scores; <unk> for unknown characters
  post-processor  [CLS] A [SEP] (B [SEP])

`train` learns such a vocabulary with the `tokenizers` library's UnigramTrainer (the
EM and pruning of SentencePiece); `from_spiece` reads a SentencePiece model file.
`is_word_start` is ALBERT's rule for whole-word and n-gram masking.
"""

from __future__ import annotations

import base64
import json
from typing import Callable, Iterable

import numpy as np
import tokenizers
from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers, processors

from jaxbert.convert import spiece

SPECIAL_TOKENS = ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")
WORD_START = "\u2581"    # "▁"
# ALBERT's create_pretraining_data.py (_is_start_piece_sp): these pieces, alone, start a word.
_PUNCTUATION = frozenset('!"#$%&"()*+,-./:;?@[\\]^_`{|}~') | {"\u20ac", "\u00a3"}
_ENGLISH = frozenset("abcdefghijklmnopqrstuvwxyz")


def is_word_start(piece: str) -> bool:
  """ALBERT's rule (create_pretraining_data.py, _is_start_piece_sp): a piece starts a word
  if it begins with "▁" or "<", is one punctuation character, or holds a character that is
  neither an English letter nor punctuation (digits, other scripts); otherwise (letters
  and punctuation inside a word, e.g. "ing", "'s") it continues the word before it."""
  return (piece.startswith((WORD_START, "<")) or piece in _PUNCTUATION
          or not all(c.lower() in _ENGLISH or c in _PUNCTUATION for c in piece))


def _splits_number_comma(piece: str) -> bool:
  """Pieces such as "0," that ALBERT's slow tokenizer re-splits (and transformers'
  conversion penalises by 100): kept out of trained vocabularies."""
  return len(piece) >= 2 and piece[-1] == "," and piece[-2].isdigit()


def _normalizer(lowercase: bool, strip_accents: bool, charsmap: bytes = b"",
                clean_whitespace: bool = True):
  steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
  if strip_accents:
    steps += [normalizers.NFKD(), normalizers.StripAccents()]
  if lowercase:
    steps.append(normalizers.Lowercase())
  if charsmap:
    steps.append(normalizers.Precompiled(charsmap))
  if clean_whitespace:
    steps += [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
  else:                                   # transformers' conversion of a model file
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
  return normalizers.Sequence(steps)


def build(vocab: list[tuple[str, float]], unk_id: int, *, lowercase: bool,
          strip_accents: bool | None = None, charsmap: bytes = b"", clean_whitespace: bool = True,
          specials: Iterable[str] = SPECIAL_TOKENS) -> tokenizers.Tokenizer:
  """The ALBERT pipeline around a Unigram model of `vocab` ((piece, score) by id);
  accents are stripped with lowercasing unless `strip_accents` says otherwise."""
  tok = tokenizers.Tokenizer(models.Unigram([(p, float(s)) for p, s in vocab], unk_id, False))
  strip_accents = lowercase if strip_accents is None else strip_accents
  tok.normalizer = _normalizer(lowercase, strip_accents, charsmap, clean_whitespace)
  tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=WORD_START, prepend_scheme="always")
  tok.decoder = decoders.Metaspace(replacement=WORD_START, prepend_scheme="always")
  ids = {p: i for i, (p, _) in enumerate(vocab)}
  tok.add_special_tokens([AddedToken(t, lstrip=t == "[MASK]", rstrip=False, normalized=False,
                                     special=True) for t in specials if t in ids])
  if "[CLS]" in ids and "[SEP]" in ids:
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
  return tok


def _canonical(vocab: list[tuple[str, float]]) -> list[tuple[str, float]]:
  """The trained pieces in an order and with scores that do not depend on the process.

  The trainer sums its EM statistics over a hash map, so scores differ between processes
  in their last bits, and it gives the characters EM dropped the scores min, min + 1e-4,
  min + 2e-4, ... in hash-map order. Here those characters all get min, every score is
  rounded to float32 (the precision of SentencePiece's model files), and the pieces are
  ordered by score, then by text; pieces such as "0," are dropped (_splits_number_comma).
  """
  vocab = [(p, s) for p, s in vocab if p not in SPECIAL_TOKENS and not _splits_number_comma(p)]
  low = min(s for _, s in vocab)
  steps = [(s - low) / 1e-4 for _, s in vocab]
  singles = sum(len(p) == 1 for p, _ in vocab)
  vocab = [(p, low if len(p) == 1 and abs(k - round(k)) < 1e-6 and round(k) < singles else s)
           for (p, s), k in zip(vocab, steps)]
  vocab = [(p, float(np.float32(s))) for p, s in vocab]
  return [(t, 0.0) for t in SPECIAL_TOKENS] + sorted(vocab, key=lambda x: (-x[1], x[0]))


def train(texts: Callable[[], Iterable[str]], vocab_size: int, lowercase: bool,
          max_piece_length: int = 16) -> tokenizers.Tokenizer:
  """A Unigram vocabulary of at most `vocab_size` pieces (specials included) learnt from
  the strings of `texts()`; the same texts give the same file in every process."""
  tok = build([("<unk>", 0.0)], 0, lowercase=lowercase, specials=())
  tok.post_processor = None
  trainer = tokenizers.trainers.UnigramTrainer(
      vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), unk_token="<unk>",
      max_piece_length=max_piece_length, show_progress=False)
  tok.train_from_iterator(texts(), trainer)
  vocab = _canonical([(p, s) for p, s in json.loads(tok.to_str())["model"]["vocab"]])
  return build(vocab, SPECIAL_TOKENS.index("<unk>"), lowercase=lowercase)


def from_spiece(path: str, lowercase: bool = True, keep_accents: bool = False) -> tokenizers.Tokenizer:
  """The tokenizer of a SentencePiece Unigram model file, as transformers converts
  ALBERT's (AlbertConverter: its normaliser, pieces "0," penalised by 100, control
  pieces special); `lowercase`, `keep_accents`: ALBERT's do_lower_case and keep_accents."""
  model = spiece.read(path)
  if model.model_type != spiece.UNIGRAM:
    raise ValueError(f"{path}: a SentencePiece model of type {model.model_type}; only "
                     "Unigram (type 1, ALBERT's) is supported")
  vocab = [(p, s - 100 if _splits_number_comma(p) else s) for p, s, _ in model.pieces]
  specials = [p for p, _, t in model.pieces if t == spiece.CONTROL]
  tok = build(vocab, model.unk_id, lowercase=lowercase, strip_accents=not keep_accents,
              charsmap=model.precompiled_charsmap, clean_whitespace=False, specials=specials)
  user = [p for p, _, t in model.pieces if t == spiece.USER_DEFINED]
  if user:
    tok.add_tokens([AddedToken(p, normalized=False) for p in user])
  return tok


def to_spiece(tok: tokenizers.Tokenizer) -> bytes:
  """The SentencePiece model file of a Unigram tokenizer: its pieces and scores, the
  added special tokens as control pieces; SentencePiece's own normalisation is the
  tokenizer's precompiled character map if it has one, else none ("identity"): ALBERT's
  tokenizer cleans whitespace, lowercases and strips accents before it."""
  spec = json.loads(tok.to_str())
  norm = spec.get("normalizer") or {}
  charsmap = next((n["precompiled_charsmap"] for n in norm.get("normalizers", [norm])
                   if n.get("type") == "Precompiled"), "")
  model = spec["model"]
  if model.get("type") != "Unigram":
    raise ValueError(f"only a Unigram model can be written as spiece.model (got {model.get('type')!r})")
  control = {t["content"] for t in spec.get("added_tokens", []) if t.get("special")}
  unk = int(model["unk_id"])
  pieces = [(p, s, spiece.UNKNOWN if i == unk else spiece.CONTROL if p in control
             else spiece.NORMAL) for i, (p, s) in enumerate(model["vocab"])]
  pad = next((i for i, (p, _, _) in enumerate(pieces) if p in ("<pad>", "[PAD]")), -1)
  return spiece.serialize(pieces, unk_id=unk, pad_id=pad, charsmap=base64.b64decode(charsmap))
