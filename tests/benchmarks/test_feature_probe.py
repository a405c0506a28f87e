"""The feature probe's closed-form ridge fit against numpy's least squares, and its
scores on features that determine the label."""

import numpy as np

from benchmarks import feature_probe


def test_ridge_fit_is_least_squares_at_zero_weight_and_shrinks():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(200, 5)), rng.normal(size=200)
  want = np.linalg.lstsq(np.concatenate([x, np.ones((200, 1))], 1), y, rcond=None)[0]
  np.testing.assert_allclose(feature_probe.ridge_fit(x, y, 0.0), want, atol=1e-10)
  w = feature_probe.ridge_fit(x, y, 1e6)
  assert np.abs(w[:-1]).max() < 1e-3 and abs(w[-1] - y.mean()) < 1e-3   # bias not shrunk


def test_probe_finds_a_determining_feature_and_not_noise():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(2000, 8))
  cls = np.sign(x[:, 3])
  good = feature_probe.probe(x[:1500], cls[:1500], x[1500:], cls[1500:], regression=False)
  assert good["dev"] > 0.97
  noise = rng.normal(size=(2000, 8))
  bad = feature_probe.probe(noise[:1500], cls[:1500], noise[1500:], cls[1500:], False)
  assert abs(bad["dev"] - 0.5) < 0.06
  score = 2.0 * x[:, 0] - x[:, 5] + 0.1 * rng.normal(size=2000)
  fit = feature_probe.probe(x[:1500], score[:1500], x[1500:], score[1500:], regression=True)
  assert fit["dev"] > 0.99
