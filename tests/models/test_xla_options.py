"""jaxbert.compiler_options(): what XLA:CPU is told, that it takes effect, that it does not
change results, and that an option a jaxlib lacks is dropped rather than fatal."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbert
from jaxbert import xla
from jaxbert.configs import EncoderConfig

CFG = EncoderConfig(vocab_size=64, hidden_size=32, num_layers=2, num_heads=2,
                    intermediate_size=64, max_position_embeddings=16)


def test_options_per_backend():
  assert jaxbert.compiler_options("gpu") is None
  assert jaxbert.compiler_options("tpu") is None
  assert jaxbert.compiler_options("cpu") == xla.CPU_OPTIONS  # known to this jaxlib
  assert jaxbert.compiler_options("cpu", training=True) is None  # steps: XLA's defaults


def test_unknown_option_is_dropped():
  assert not xla._accepted((("xla_cpu_no_such_option_here", "1"),))


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="CPU options")
def test_forward_without_ynn_fusions_same_result():
  model = jaxbert.PretrainingModel(CFG, mlm_head=False)
  params = jaxbert.init_params(model)
  ids = jax.random.randint(jax.random.key(1), (2, 16), 1, CFG.vocab_size)
  mask = jnp.ones((2, 16), jnp.int32).at[1, 10:].set(0)

  def forward(params, ids, mask):
    return model.apply({"params": params}, ids, attention_mask=mask).last_hidden_state

  default = jax.jit(forward).lower(params, ids, mask).compile()
  ours = jax.jit(forward, compiler_options=jaxbert.compiler_options()).lower(
      params, ids, mask).compile()
  # The option takes effect: XLA's default plan hands dots to YNNPACK, ours does not.
  assert "__ynn_fusion" in default.as_text()
  assert "__ynn_fusion" not in ours.as_text()
  np.testing.assert_allclose(np.asarray(ours(params, ids, mask)),
                             np.asarray(default(params, ids, mask)), atol=2e-6, rtol=0)
