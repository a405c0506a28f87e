"""The record format of shards.py: records() then decode() gives the examples back."""

import numpy as np
import pytest

from jaxbert.data import shards
from jaxbert.data.examples import create_examples

from test_data_examples import CLS, SEP, numbered_docs


@pytest.mark.parametrize("objective,packing,dtype", [("nsp", False, "uint16"),
                                                     ("none", True, "int32")])
def test_records_round_trip(objective, packing, dtype):
  store = create_examples(numbered_docs(20), max_seq_length=40, pair_objective=objective,
                          cls_id=CLS, sep_id=SEP, seed=0, packing=packing)
  out = shards.decode(shards.records(store, dtype), dtype, 40)
  for i in range(len(store)):
    ex, n = store.example(i), len(store.example(i)["ids"])
    assert out["lengths"][i] == n and out["labels"][i] == ex["label"]
    assert np.array_equal(out["ids"][i, :n], ex["ids"]) and not out["ids"][i, n:].any()
    assert np.array_equal(out["types"][i, :n], ex["types"]) and not out["types"][i, n:].any()
    assert np.array_equal(out["segs"][i, :n], ex["segs"] if packing else np.zeros(n))


def test_reader_returns_written_records_by_number(tmp_path):
  """Shards written GROUP_SIZE records per chunk, several copies each, read back by
  global record number in any order (repeats, across shards) give the written records:
  record r of the stream is copy c's example in file order, as ShardIndex numbers them."""
  stores = [[create_examples(numbered_docs(12 + 5 * s), max_seq_length=24, pair_objective="nsp",
                             cls_id=CLS, sep_id=SEP, seed=(s, c)) for c in range(3)]
            for s in range(3)]
  written, paths = [], []
  for s, copies in enumerate(stores):
    paths.append(str(tmp_path / f"train-{s:05d}.array_record"))
    sizes = shards.write_shard(paths[-1], iter(copies), "uint16")   # a generator, as preparation
    assert sizes == [len(store) for store in copies]
    written += [r for store in copies for r in shards.records(store, "uint16")]
  assert len(written) > 2 * shards.GROUP_SIZE   # several chunks per file
  index = shards.ShardIndex([[len(st) for st in copies] for copies in stores])
  reader = shards.ShardReader(paths, index.counts.sum(1))
  want = np.random.default_rng(0).integers(0, len(written), 300)
  assert reader.read(want) == [written[r] for r in want]
  c, e = 2, np.arange(index.sizes[2])   # copy 2 of every shard, through the index
  assert reader.read(index.record(np.full(len(e), c), e)) == [
      r for copies in stores for r in shards.records(copies[c], "uint16")]
