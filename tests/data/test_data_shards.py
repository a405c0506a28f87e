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
