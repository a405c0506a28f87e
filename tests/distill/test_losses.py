"""Distillation loss terms against float64 numpy references."""

import types

import jax.numpy as jnp
import numpy as np
import pytest

from jaxbert import losses as L


def _np_log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _inputs(seed=0, b=3, n=5, v=11, d=7):
  rng = np.random.default_rng(seed)
  s = rng.normal(size=(b, n, v)) * 3
  t = rng.normal(size=(b, n, v)) * 3
  w = (rng.random((b, n)) > 0.3).astype(np.float64)
  w[0, 0] = 1.0
  return s, t, w


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_soft_target_is_t2_scaled_kl(temperature):
  s, t, w = _inputs()
  pt = np.exp(_np_log_softmax(t / temperature))
  kl = (pt * (_np_log_softmax(t / temperature) - _np_log_softmax(s / temperature))).sum(-1)
  want = temperature ** 2 * (kl * w).sum()
  got, count = L.soft_target_loss(jnp.asarray(s, jnp.float32), jnp.asarray(t, jnp.float32),
                                  jnp.asarray(w, jnp.float32), temperature)
  np.testing.assert_allclose(float(got), want, rtol=1e-5)
  assert float(count) == w.sum()
  # Cross-entropy = KL + teacher entropy (the term we do not report).
  ce = -(pt * _np_log_softmax(s / temperature)).sum(-1)
  ent = -(pt * _np_log_softmax(t / temperature)).sum(-1)
  np.testing.assert_allclose(temperature ** 2 * ((ce - ent) * w).sum(), want, rtol=1e-10)


def test_soft_target_zero_when_equal_and_padding_excluded():
  s, t, w = _inputs(1)
  got, _ = L.soft_target_loss(jnp.asarray(t), jnp.asarray(t), jnp.ones(w.shape), 2.0)
  assert abs(float(got)) < 1e-5
  # Garbage at padded positions changes nothing.
  s2 = s.copy()
  s2[w == 0] = 1e3 * np.random.default_rng(2).normal(size=s2[w == 0].shape)
  a = L.soft_target_loss(jnp.asarray(s), jnp.asarray(t), jnp.asarray(w), 2.0)[0]
  b = L.soft_target_loss(jnp.asarray(s2), jnp.asarray(t), jnp.asarray(w), 2.0)[0]
  np.testing.assert_allclose(float(a), float(b), rtol=1e-6)


def test_cosine_loss_excludes_padding():
  rng = np.random.default_rng(5)
  hs, ht = rng.normal(size=(2, 6, 8)), rng.normal(size=(2, 6, 8))
  mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], np.float64)
  cos = (hs * ht).sum(-1) / (np.linalg.norm(hs, axis=-1) * np.linalg.norm(ht, axis=-1))
  got, count = L.cosine_loss(jnp.asarray(hs, jnp.float32), jnp.asarray(ht, jnp.float32),
                             jnp.asarray(mask))
  np.testing.assert_allclose(float(got), ((1 - cos) * mask).sum(), rtol=1e-5)
  assert float(count) == 10
  same, _ = L.cosine_loss(jnp.asarray(hs), 3.0 * jnp.asarray(hs), jnp.asarray(mask))
  assert abs(float(same)) < 1e-5


@pytest.mark.parametrize("masked_only", [False, True])
def test_loss_terms(masked_only):
  """Every term with padding tokens, padding prediction slots and a padding row."""
  rng = np.random.default_rng(6)
  b, l, p, v, d = 3, 6, 3, 9, 4
  attn = np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 5 + [0]], np.int32)
  pos = np.array([[1, 3, 0], [0, 2, 0], [1, 2, 3]], np.int32)
  mw = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 1]], np.float32)
  ew = np.array([1, 1, 0], np.float32)                                    # row 2: eval padding
  ids = rng.integers(0, v, size=(b, p)).astype(np.int32)
  n = p if masked_only else l
  s_logits, t_logits = rng.normal(size=(b, n, v)) * 2, rng.normal(size=(b, n, v)) * 2
  hs, ht = rng.normal(size=(b, l, d)), rng.normal(size=(b, l, d))
  batch = dict(attention_mask=attn, masked_positions=pos, masked_weights=mw, masked_ids=ids,
               example_weights=ew)
  f32 = lambda x: jnp.asarray(x, jnp.float32)
  terms = L.distill_terms(f32(s_logits), f32(t_logits), f32(hs), f32(ht), batch,
                       temperature=2.0, masked_only=masked_only)
  mean = lambda k: float(terms[k][0]) / float(terms[k][1])
  # float64 references.
  tok_w, pred_w = attn * ew[:, None], mw * ew[:, None]
  soft_w = pred_w if masked_only else tok_w
  pt = np.exp(_np_log_softmax(t_logits / 2))
  kl = (pt * (_np_log_softmax(t_logits / 2) - _np_log_softmax(s_logits / 2))).sum(-1)
  np.testing.assert_allclose(mean("soft"), 4 * (kl * soft_w).sum() / soft_w.sum(), rtol=1e-5)
  gather = lambda x: x if masked_only else np.take_along_axis(x, pos[..., None], 1)
  s_m, t_m = gather(s_logits), gather(t_logits)
  nll = -np.take_along_axis(_np_log_softmax(s_m), ids[..., None], -1)[..., 0]
  np.testing.assert_allclose(mean("mlm"), (nll * pred_w).sum() / pred_w.sum(), rtol=1e-5)
  cos = (hs * ht).sum(-1) / (np.linalg.norm(hs, axis=-1) * np.linalg.norm(ht, axis=-1))
  np.testing.assert_allclose(mean("cos"), ((1 - cos) * tok_w).sum() / tok_w.sum(), rtol=1e-5)
  for key, logits in (("accuracy", s_m), ("teacher_accuracy", t_m)):
    hits = ((logits.argmax(-1) == ids) * pred_w).sum()
    assert (float(terms[key][0]), float(terms[key][1])) == (hits, pred_w.sum())
