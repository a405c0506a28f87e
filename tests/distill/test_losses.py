"""Distillation loss terms against float64 numpy references."""

import types

import jax.numpy as jnp
import numpy as np
import pytest

from jaxbert import distillation as D


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
  got, count = D.soft_target_loss(jnp.asarray(s, jnp.float32), jnp.asarray(t, jnp.float32),
                                  jnp.asarray(w, jnp.float32), temperature)
  np.testing.assert_allclose(float(got), want, rtol=1e-5)
  assert float(count) == w.sum()
  # Cross-entropy = KL + teacher entropy (the term we do not report).
  ce = -(pt * _np_log_softmax(s / temperature)).sum(-1)
  ent = -(pt * _np_log_softmax(t / temperature)).sum(-1)
  np.testing.assert_allclose(temperature ** 2 * ((ce - ent) * w).sum(), want, rtol=1e-10)


def test_soft_target_zero_when_equal_and_padding_excluded():
  s, t, w = _inputs(1)
  got, _ = D.soft_target_loss(jnp.asarray(t), jnp.asarray(t), jnp.ones(w.shape), 2.0)
  assert abs(float(got)) < 1e-5
  # Garbage at padded positions changes nothing.
  s2 = s.copy()
  s2[w == 0] = 1e3 * np.random.default_rng(2).normal(size=s2[w == 0].shape)
  a = D.soft_target_loss(jnp.asarray(s), jnp.asarray(t), jnp.asarray(w), 2.0)[0]
  b = D.soft_target_loss(jnp.asarray(s2), jnp.asarray(t), jnp.asarray(w), 2.0)[0]
  np.testing.assert_allclose(float(a), float(b), rtol=1e-6)


def test_mlm_loss_and_accuracy():
  s, _, w = _inputs(3)
  labels = np.random.default_rng(4).integers(0, s.shape[-1], size=w.shape)
  nll = -np.take_along_axis(_np_log_softmax(s), labels[..., None], -1)[..., 0]
  got, count = D.mlm_loss(jnp.asarray(s, jnp.float32), jnp.asarray(labels),
                          jnp.asarray(w, jnp.float32))
  np.testing.assert_allclose(float(got), (nll * w).sum(), rtol=1e-5)
  assert float(count) == w.sum()
  hit, _ = D.mlm_correct(jnp.asarray(s), jnp.asarray(labels), jnp.asarray(w))
  assert float(hit) == ((s.argmax(-1) == labels) * w).sum()


def test_cosine_loss_excludes_padding():
  rng = np.random.default_rng(5)
  hs, ht = rng.normal(size=(2, 6, 8)), rng.normal(size=(2, 6, 8))
  mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], np.float64)
  cos = (hs * ht).sum(-1) / (np.linalg.norm(hs, axis=-1) * np.linalg.norm(ht, axis=-1))
  got, count = D.cosine_loss(jnp.asarray(hs, jnp.float32), jnp.asarray(ht, jnp.float32),
                             jnp.asarray(mask))
  np.testing.assert_allclose(float(got), ((1 - cos) * mask).sum(), rtol=1e-5)
  assert float(count) == 10
  same, _ = D.cosine_loss(jnp.asarray(hs), 3.0 * jnp.asarray(hs), jnp.asarray(mask))
  assert abs(float(same)) < 1e-5


@pytest.mark.parametrize("masked_only", [False, True])
def test_loss_terms_and_total(masked_only):
  rng = np.random.default_rng(6)
  b, l, p, v, d = 2, 6, 3, 9, 4
  attn = np.array([[1] * 6, [1] * 4 + [0] * 2], np.int32)
  pos = np.array([[1, 3, 0], [0, 2, 0]], np.int32)
  mw = np.array([[1, 1, 0], [1, 1, 0]], np.float32)
  ids = rng.integers(0, v, size=(b, p)).astype(np.int32)
  n = p if masked_only else l
  s_logits, t_logits = rng.normal(size=(b, n, v)), rng.normal(size=(b, n, v))
  hs, ht = rng.normal(size=(b, l, d)), rng.normal(size=(b, l, d))
  out = lambda lg, h: types.SimpleNamespace(mlm_logits=jnp.asarray(lg, jnp.float32),
                                            last_hidden_state=jnp.asarray(h, jnp.float32))
  batch = dict(attention_mask=attn, masked_positions=pos, masked_weights=mw, masked_ids=ids)
  terms = D.loss_terms(out(s_logits, hs), out(t_logits, ht), batch, temperature=2.0,
                       masked_only=masked_only)
  # References.
  soft_w = mw if masked_only else attn
  pt = np.exp(_np_log_softmax(t_logits / 2))
  kl = (pt * (_np_log_softmax(t_logits / 2) - _np_log_softmax(s_logits / 2))).sum(-1)
  soft = 4 * (kl * soft_w).sum() / soft_w.sum()
  s_m = s_logits if masked_only else np.take_along_axis(s_logits, pos[..., None], 1)
  nll = -np.take_along_axis(_np_log_softmax(s_m), ids[..., None], -1)[..., 0]
  mlm = (nll * mw).sum() / mw.sum()
  cos = (hs * ht).sum(-1) / (np.linalg.norm(hs, axis=-1) * np.linalg.norm(ht, axis=-1))
  cosl = ((1 - cos) * attn).sum() / attn.sum()
  loss, means = D.total_loss(terms)
  np.testing.assert_allclose(float(means["soft"]), soft, rtol=1e-5)
  np.testing.assert_allclose(float(means["mlm"]), mlm, rtol=1e-5)
  np.testing.assert_allclose(float(means["cos"]), cosl, rtol=1e-5)
  np.testing.assert_allclose(float(loss), 5 * soft + 2 * mlm + 1 * cosl, rtol=1e-5)
  loss2, _ = D.total_loss(terms, {"soft": 1.0, "mlm": 0.0, "cos": 0.0})
  np.testing.assert_allclose(float(loss2), soft, rtol=1e-5)
