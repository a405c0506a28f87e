"""Model properties: scan vs loop, remat vs plain, masked-position logits, bfloat16,
packed sequences, config validation, input checks and dropout (task heads against
transformers: tests/models/test_tasks.py)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbert
from jaxbert.configs import EncoderConfig

# ALBERT-like: 2 groups of 2 inner layers applied over 4 layers (both scans non-trivial).
SHARED = EncoderConfig(vocab_size=64, hidden_size=32, num_layers=4, num_heads=4,
                       intermediate_size=48, embedding_size=16, num_groups=2,
                       inner_group_num=2, max_position_embeddings=32, pair_head="sop")
BERT = EncoderConfig(vocab_size=64, hidden_size=32, num_layers=2, num_heads=4,
                     intermediate_size=48, max_position_embeddings=32)
IDS = jnp.asarray(np.random.RandomState(0).randint(1, 64, (2, 10)), jnp.int32)
MASK = jnp.asarray(np.r_[np.ones((1, 10)), np.r_[np.ones(7), np.zeros(3)][None]], jnp.int32)


def diff(a, b):
  return float(jnp.max(jnp.abs(jnp.asarray(a, jnp.float32) - jnp.asarray(b, jnp.float32))))


@functools.lru_cache(maxsize=None)
def params_for(cfg):
  return jaxbert.init_params(jaxbert.PretrainingModel(cfg), seed=1, length=4)


def apply_fn(cfg, **static):
  """A jitted model.apply(variables, ids, **kwargs) with `static` keywords fixed."""
  return jax.jit(functools.partial(jaxbert.PretrainingModel(cfg).apply, **static))


def run(cfg, params, **kwargs):
  return apply_fn(cfg)({"params": params}, IDS, attention_mask=MASK, **kwargs)


def test_scan_equals_loop():
  cfg = SHARED
  params = params_for(cfg)
  scanned, looped = run(cfg, params), run(cfg.replace(scan_layers=False), params)
  from jaxbert.convert import param_shapes
  assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(
      param_shapes(jaxbert.PretrainingModel(cfg.replace(scan_layers=False))))
  for a, b in zip(scanned.hidden_states, looped.hidden_states):
    assert diff(a, b) <= 1e-5
  assert diff(scanned.mlm_logits, looped.mlm_logits) <= 1e-5
  assert diff(scanned.sentence_logits, looped.sentence_logits) <= 1e-5


def test_einsum_attention_equals_dot_product_attention():
  """The default einsum attention equals jax.nn.dot_product_attention's XLA path,
  with padding (an independent implementation of the same product)."""
  params = params_for(BERT)
  ours, ref = run(BERT, params), run(BERT.replace(attention_impl="xla"), params)
  assert diff(ours.last_hidden_state, ref.last_hidden_state) <= 1e-5
  assert diff(ours.mlm_logits, ref.mlm_logits) <= 1e-5


# One group of 2 inner layers applied twice: the nested scans, at a third of the cost.
REMAT = SHARED.replace(num_layers=2, num_groups=1)


@functools.lru_cache(maxsize=None)
def loss_and_grads(cfg):
  model, params = jaxbert.PretrainingModel(cfg), params_for(REMAT)

  def loss(p):
    out = model.apply({"params": p}, IDS, attention_mask=MASK)
    return jnp.mean(out.mlm_logits ** 2) + jnp.mean(out.sentence_logits ** 2)
  return jax.jit(jax.value_and_grad(loss))(params)


@pytest.mark.parametrize("policy,scan", [("full", True), ("dots", True)])
def test_remat_same_outputs_and_gradients(policy, scan):
  loss0, grads0 = loss_and_grads(REMAT.replace(remat_policy="none"))  # the default is dots
  loss1, grads1 = loss_and_grads(REMAT.replace(remat_policy=policy, scan_layers=scan))
  assert diff(loss0, loss1) <= 1e-6
  assert max(jax.tree_util.tree_leaves(jax.tree_util.tree_map(diff, grads0, grads1))) <= 1e-6


def test_masked_positions_equal_gathered_logits():
  params = params_for(BERT)
  positions = jnp.asarray([[0, 3, 9], [1, 2, 6]], jnp.int32)
  full = run(BERT, params).mlm_logits
  masked = run(BERT, params, masked_positions=positions).mlm_logits
  assert masked.shape == (2, 3, 64)
  assert diff(masked, jnp.take_along_axis(full, positions[:, :, None], axis=1)) <= 1e-6


def test_bfloat16_compute_close_to_float32():
  params = params_for(SHARED)
  full = run(SHARED, params)
  half = run(SHARED.replace(dtype="bfloat16"), params)
  assert half.mlm_logits.dtype == jnp.float32 and half.last_hidden_state.dtype == jnp.bfloat16
  scale = float(jnp.max(jnp.abs(full.mlm_logits)))
  assert diff(half.mlm_logits, full.mlm_logits) <= 2e-2 * max(scale, 1.0)
  assert diff(half.last_hidden_state, full.last_hidden_state) <= 1e-1   # LayerNormed, O(1)


def test_packed_sequences_equal_separate():
  params, apply = params_for(BERT), apply_fn(BERT)
  a, b = IDS[0, :6], IDS[1, :4]
  packed = jnp.concatenate([a, b, jnp.zeros(2, jnp.int32)])[None]               # [1, 12]
  segments = jnp.asarray([[1] * 6 + [2] * 4 + [0] * 2], jnp.int32)
  positions = jnp.asarray([list(range(6)) + list(range(4)) + [0, 0]], jnp.int32)
  out = apply({"params": params}, packed, segment_ids=segments, position_ids=positions)
  alone_a = apply({"params": params}, a[None]).last_hidden_state[0]
  alone_b = apply({"params": params}, b[None]).last_hidden_state[0]
  assert diff(out.last_hidden_state[0, :6], alone_a) <= 1e-5
  assert diff(out.last_hidden_state[0, 6:10], alone_b) <= 1e-5


@pytest.mark.parametrize("field,value", [
    ("num_heads", 5), ("num_layers", 0), ("num_groups", 3), ("hidden_act", "mish"),
    ("dtype", "int8"), ("remat_policy", "some"), ("pad_token_id", 64),
    ("dropout_rate", 1.0), ("pair_head", "xyz")])
def test_invalid_configs_name_the_field(field, value):
  name = "hidden_size" if field == "num_heads" else field
  with pytest.raises(ValueError, match=name):
    BERT.replace(**{field: value})


def test_check_inputs():
  with pytest.raises(ValueError, match="input_ids contains 64"):
    jaxbert.check_inputs(BERT, np.asarray([[1, 64]]))
  with pytest.raises(ValueError, match="token_type_ids"):
    jaxbert.check_inputs(BERT, np.asarray([[1, 2]]), token_type_ids=np.asarray([[0, 2]]))
  with pytest.raises(ValueError, match="max_position_embeddings=32"):
    jaxbert.check_inputs(BERT, np.ones((1, 33), np.int32))
  with pytest.raises(ValueError, match="input_ids"):
    jaxbert.PretrainingModel(BERT).apply({"params": params_for(BERT)}, jnp.asarray([[-1, 2]]))
  jaxbert.check_inputs(BERT, np.ones((1, 32), np.int32))


def test_dropout_only_when_not_deterministic():
  params, fns = params_for(BERT), {d: apply_fn(BERT, deterministic=d) for d in (True, False)}
  apply = lambda det, seed: fns[det]({"params": params}, IDS,
                                     rngs={"dropout": jax.random.key(seed)}).mlm_logits
  assert diff(apply(True, 0), apply(True, 1)) == 0
  assert diff(apply(True, 0), apply_fn(BERT)({"params": params}, IDS).mlm_logits) <= 1e-6
  assert diff(apply(False, 0), apply(False, 1)) > 1e-3
  assert diff(apply(False, 0), apply(True, 0)) > 1e-3

