"""Dropout's two mask generators (jaxbert/models/dropout.py).

"threefry" must be flax's nn.Dropout bit for bit. "hash" is checked against a
plain-Python computation of its formula (MurmurHash3's finaliser, written here from
its published constants), and its masks for their statistics: the keep rate, and no
correlation between neighbouring elements, between keys, or between the call sites
of one model.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbert
from jaxbert.models.dropout import Dropout, hash_keep_mask
from jaxbert.models.layers import TransformerLayer

M32 = 0xFFFFFFFF


def fmix32_reference(h: int) -> int:
  h ^= h >> 16
  h = (h * 0x85EBCA6B) & M32
  h ^= h >> 13
  h = (h * 0xC2B2AE35) & M32
  return h ^ (h >> 16)


def test_hash_mask_is_the_formula_element_by_element():
  key = jax.random.key(11)
  shape, rate = (3, 5, 7), 0.3
  k0, k1 = (int(k) for k in np.asarray(jax.random.bits(key, (2,), jnp.uint32)))
  threshold = round(rate * 2**32)
  want = np.array([fmix32_reference(fmix32_reference((i + k0) & M32) ^ k1) >= threshold
                   for i in range(np.prod(shape))]).reshape(shape)
  np.testing.assert_array_equal(np.asarray(hash_keep_mask(key, shape, rate)), want)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_hash_keep_rate_is_one_minus_rate(rate):
  n = 1 << 20
  keep = np.asarray(hash_keep_mask(jax.random.key(0), (n,), rate))
  sigma = np.sqrt(rate * (1 - rate) / n)
  assert abs(keep.mean() - (1 - rate)) < 5 * sigma


def correlation(a: np.ndarray, b: np.ndarray) -> float:
  return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])


def test_hash_masks_are_uncorrelated_across_neighbours_and_keys():
  n = 1 << 20
  bound = 5 / np.sqrt(n)       # 5 sigma of a correlation of n independent pairs
  a = np.asarray(hash_keep_mask(jax.random.key(1), (n,), 0.5))
  b = np.asarray(hash_keep_mask(jax.random.key(2), (n,), 0.5))
  for lag in (1, 2, 128, 256):  # neighbours along a row and across rows of 128 and 256
    assert abs(correlation(a[:-lag], a[lag:])) < bound, lag
  assert abs(correlation(a, b)) < bound
  for lag in (1, 1000):         # one key's stream is no shift of the other's
    assert abs(correlation(a[:-lag], b[lag:])) < bound


def test_threefry_bits_are_flax_dropout_bit_for_bit():
  x = jax.random.normal(jax.random.key(0), (4, 16, 32))
  rngs = {"dropout": jax.random.key(5)}
  want = nn.Dropout(0.25).apply({}, x, deterministic=False, rngs=rngs)
  got = Dropout(0.25).apply({}, x, deterministic=False, rngs=rngs)
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  want = nn.Dropout(0.25, broadcast_dims=(-1,)).apply({}, x, deterministic=False, rngs=rngs)
  got = Dropout(0.25, broadcast_dims=(-1,)).apply({}, x, deterministic=False, rngs=rngs)
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_hash_dropout_scales_kept_values_and_its_gradient_uses_the_same_mask():
  x = jax.random.normal(jax.random.key(0), (8, 64)) + 3.0     # no zeros in x
  rngs = {"dropout": jax.random.key(7)}
  layer = Dropout(0.2, bits="hash")
  y = np.asarray(layer.apply({}, x, deterministic=False, rngs=rngs))
  kept = y != 0
  np.testing.assert_allclose(y[kept], np.asarray(x)[kept] / 0.8, rtol=1e-6)
  key = jax.random.key(8)      # a key given directly is the mask's key
  given = np.asarray(layer.apply({}, x, deterministic=False, rng=key)) != 0
  np.testing.assert_array_equal(given, np.asarray(hash_keep_mask(key, x.shape, 0.2)))
  grad = jax.grad(lambda v: layer.apply({}, v, deterministic=False, rngs=rngs).sum())(x)
  np.testing.assert_allclose(np.asarray(grad), kept / 0.8, rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(layer.apply({}, x, deterministic=True)), x)
  broadcast = Dropout(0.5, broadcast_dims=(0,), bits="hash").apply(
      {}, x, deterministic=False, rngs=rngs)
  rows_kept = np.asarray(broadcast) != 0
  assert (rows_kept == rows_kept[:1]).all() and 0 < rows_kept[0].mean() < 1


def test_every_call_site_gets_its_own_hash_mask():
  """A layer's three sites (attention probabilities, attention output, MLP output) draw
  different masks, and a model's output depends on the dropout seed."""
  layer = TransformerLayer(32, 2, 32, dropout_rate=0.5, attention_dropout_rate=0.5,
                           dropout_bits="hash")
  x = jax.random.normal(jax.random.key(0), (2, 16, 32))
  mask = jnp.ones((2, 1, 1, 16), bool)
  params = layer.init(jax.random.key(1), x, mask)
  _, state = layer.apply(params, x, mask, deterministic=False,
                         rngs={"dropout": jax.random.key(0)},
                         capture_intermediates=lambda m, _: isinstance(m, Dropout),
                         mutable=["intermediates"])
  sites = sorted((np.asarray(v) == 0 for v in jax.tree.leaves(state["intermediates"])),
                 key=lambda s: -s.ndim)
  assert [s.shape for s in sites] == [(2, 2, 16, 16), (2, 16, 32), (2, 16, 32)]
  flat = [s.reshape(-1) for s in sites]                                  # 1024 each
  for i in range(3):
    assert 0.4 < flat[i].mean() < 0.6
    for j in range(i):
      assert abs(correlation(flat[i], flat[j])) < 5 / np.sqrt(flat[i].size)

  cfg = jaxbert.get_config("bert-tiny", vocab_size=64, hidden_size=32, num_heads=2,
                           intermediate_size=32, max_position_embeddings=32,
                           dropout_bits="hash")
  model = jaxbert.SequenceClassifier(cfg, num_labels=2)
  ids = jnp.asarray(np.random.RandomState(0).randint(1, 64, (2, 16)), jnp.int32)
  params = jaxbert.init_params(model)
  run = lambda seed: np.asarray(model.apply({"params": params}, ids, deterministic=False,
                                            rngs={"dropout": jax.random.key(seed)}).logits)
  assert np.abs(run(0) - run(1)).max() > 1e-4
  np.testing.assert_array_equal(run(0), run(0))


def test_config_refuses_an_unknown_generator():
  with pytest.raises(ValueError, match="dropout_bits"):
    jaxbert.get_config("bert-tiny", dropout_bits="philox")
