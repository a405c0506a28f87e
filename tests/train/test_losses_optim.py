"""Losses against float64 numpy references; the optimizer's decay mask and schedules."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import jaxbert
from jaxbert import losses
from train import optim
from train.configs.default import get_config


def _np_xent(logits, labels):
  logits = logits.astype(np.float64)
  m = logits.max(-1, keepdims=True)
  logz = np.log(np.exp(logits - m).sum(-1)) + m[..., 0]
  return logz - np.take_along_axis(logits, labels[..., None], -1)[..., 0]


def test_mlm_loss_and_accuracy_match_float64():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(3, 4, 11)).astype(np.float32) * 5
  ids = rng.integers(0, 11, size=(3, 4))
  ids[0, 0] = logits[0, 0].argmax()
  w = rng.uniform(size=(3, 4)).astype(np.float32) * (rng.uniform(size=(3, 4)) > 0.3)
  total, count = losses.mlm_loss(jnp.asarray(logits), jnp.asarray(ids), jnp.asarray(w))
  assert total.dtype == count.dtype == jnp.float32
  np.testing.assert_allclose(total, (_np_xent(logits, ids) * w).sum(), rtol=1e-5)
  np.testing.assert_allclose(count, w.astype(np.float64).sum(), rtol=1e-6)
  correct, count = losses.mlm_accuracy(jnp.asarray(logits), jnp.asarray(ids), jnp.asarray(w))
  np.testing.assert_allclose(correct, ((logits.argmax(-1) == ids) * w).sum(), rtol=1e-6)


def test_pair_loss_and_accuracy_match_float64():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(6, 2)).astype(np.float32)
  labels = rng.integers(0, 2, size=6)
  w = np.array([1, 1, 1, 1, 0, 0], np.float32)
  total, count = losses.pair_loss(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(w))
  np.testing.assert_allclose(total, (_np_xent(logits, labels) * w).sum(), rtol=1e-5)
  assert float(count) == 4.0
  correct, _ = losses.pair_accuracy(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(w))
  assert float(correct) == ((logits.argmax(-1) == labels) * w).sum()


def test_decay_mask_skips_biases_and_layernorm():
  model = jaxbert.PretrainingModel(jaxbert.get_config("bert-tiny", vocab_size=64))
  params = jaxbert.init_params(model)
  flat = {jax.tree_util.keystr(p): m for p, m in
          jax.tree_util.tree_flatten_with_path(optim.decay_mask(params))[0]}
  for name, decayed in flat.items():
    expect = name.endswith("['kernel']") or name.endswith("['embedding']")
    assert decayed == expect, name
  assert not any(v for k, v in flat.items() if "norm" in k)
  assert flat["['encoder']['embeddings']['word']['embedding']"]


def test_weight_decay_leaves_masked_params_alone():
  opt = get_config().optimizer
  opt.weight_decay, opt.clip_norm, opt.warmup_steps = 0.5, 0.0, 0
  tx, _ = optim.make_optimizer(1e-2, 10, opt)
  params = {"dense": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)},
            "norm": {"scale": jnp.ones(2)}}
  zeros = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zeros, tx.init(params), params)
  assert np.all(np.asarray(updates["dense"]["kernel"]) < 0)        # decayed towards 0
  assert np.all(np.asarray(updates["dense"]["bias"]) == 0)
  assert np.all(np.asarray(updates["norm"]["scale"]) == 0)


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_schedule_warms_up_then_decays(decay):
  opt = ml_collections.ConfigDict(dict(warmup_steps=10, decay=decay, end_lr_fraction=0.0))
  s = optim.make_schedule(1.0, 110, opt)
  assert float(s(0)) == 0.0 and float(s(5)) == pytest.approx(0.5)
  assert float(s(10)) == pytest.approx(1.0)
  assert float(s(60)) < 1.0 and float(s(110)) == pytest.approx(0.0, abs=1e-6)


def test_lamb_and_accumulation_build():
  opt = get_config().optimizer
  opt.name, opt.grad_accum_steps, opt.warmup_steps = "lamb", 2, 0
  tx, _ = optim.make_optimizer(1e-3, 10, opt)
  params = {"w": {"kernel": jnp.ones((2, 2))}}
  state = tx.init(params)
  g = {"w": {"kernel": jnp.ones((2, 2))}}
  u1, state = tx.update(g, state, params)
  assert float(jnp.abs(u1["w"]["kernel"]).sum()) == 0.0          # accumulating
  u2, state = tx.update(g, state, params)
  assert float(jnp.abs(u2["w"]["kernel"]).sum()) > 0.0           # applied on the 2nd
