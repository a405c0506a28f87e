"""config.fresh: the named parts of the init (paths or * patterns) start from random
weights, every other parameter comes from the init unchanged, and a part the init does
not have is refused with its parts named."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbert
from finetune_testing import random_params, tiny_config
from jaxbert.models.tasks import model_with_heads
from train import finetune


@pytest.fixture(scope="module")
def models():
  cfg = tiny_config("bert", vocab_size=64)
  source = jaxbert.PretrainingModel(cfg)
  model = model_with_heads(cfg, ("pooler", "sequence_classification"), num_labels=2,
                           labels=("neg", "pos"))
  fresh = nn.unbox(model.init(jax.random.key(1), jnp.zeros((1, 8), jnp.int32))["params"])
  return source, random_params(source, seed=3), model, fresh


def leaves(tree, prefix=""):
  """{"a/b/c": array} of a nested dict."""
  out = {}
  for k, v in tree.items():
    out.update(leaves(v, f"{prefix}{k}/") if isinstance(v, dict) else {prefix + k: np.asarray(v)})
  return out


@pytest.mark.parametrize("parts,prefixes", [
    ("", []), ("pooler", ["pooler"]), ("encoder/layers", ["encoder/layers"]),
    ("encoder/embeddings,pooler", ["encoder/embeddings", "pooler"]),
    ("*/attention/query, */attention/key",       # every layer's, wherever its stack is
     ["encoder/layers/groups/group/layer_0/attention/query",
      "encoder/layers/groups/group/layer_0/attention/key"]),
    ("encoder/*", ["encoder/embeddings", "encoder/layers"]),   # outermost matches only
])
def test_fresh_parts_start_random(models, parts, prefixes):
  source, init, model, fresh = models
  taken, dropped = finetune.start_params(model, source, init, reinit=False, fresh=parts)
  assert dropped == sorted(prefixes)
  merged = leaves(finetune.merge_params(taken, fresh, dropped))
  from_init, from_fresh = leaves(init), leaves(fresh)
  assert set(merged) == set(from_fresh)
  for path, value in merged.items():
    if path.startswith("head/") or any(path.startswith(p + "/") for p in prefixes):
      np.testing.assert_array_equal(value, from_fresh[path])     # the twin's weights
    else:
      np.testing.assert_array_equal(value, from_init[path])      # the init's, unchanged
  assert set(leaves(init)) == set(leaves(random_params(source, seed=3)))   # init unmodified


def test_unknown_part_refused(models):
  source, init, model, _ = models
  with pytest.raises(ValueError, match=r"config.fresh 'encoder/layer'.*its parts: "
                                       r"encoder/embeddings, encoder/layers, pooler"):
    finetune.start_params(model, source, init, reinit=False, fresh="encoder/layer")
  with pytest.raises(ValueError, match=r"config.fresh '\*/attention/queries'"):
    finetune.start_params(model, source, init, reinit=False, fresh="*/attention/queries")


def test_merge_refuses_a_mismatched_tree(models):
  source, init, model, fresh = models
  taken, _ = finetune.start_params(model, source, init, reinit=False)
  taken["encoder"] = {k: v for k, v in taken["encoder"].items() if k != "layers"}
  with pytest.raises(ValueError, match="no parameters encoder/layers"):
    finetune.merge_params(taken, fresh)
