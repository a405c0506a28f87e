"""Input embeddings (Devlin et al. 2019, §3 "Input/Output Representations";
Lan et al. 2020, §3.1 "Factorized embedding parameterization"; Sanh et al. 2019).

Token, position and (optionally) token-type embeddings of width E are summed,
layer-normalised and dropped out. ALBERT factorises the vocabulary embedding:
E < D, and a dense projection E -> D follows. DistilBERT has no token types.

Sinusoidal positions (Vaswani et al. 2017 §3.5; DistilBERT's `sinusoidal_pos_embds`)
are a frozen table, as in the original: stored as the parameter `frozen_position`
(so checkpoints and Hugging Face conversion keep it), read through stop_gradient,
and left alone by the optimiser, which skips every parameter named FROZEN_PREFIX*
(train/optim.py).

Dimension legend: B batch, L length, V vocab, E embedding width, D hidden.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxbert.configs import EncoderConfig
from jaxbert.models.dropout import Dropout
from jaxbert.models.layers import Dense, layer_norm

Array = jax.Array

FROZEN_PREFIX = "frozen_"   # parameters named so are constants: no gradient, no update


def sinusoidal_table(length: int, width: int) -> np.ndarray:
  """Vaswani et al. 2017 §3.5 positions [length, width]: sin on even, cos on odd columns."""
  pos = np.arange(length)[:, None]                                         # [L, 1]
  freq = np.power(10000.0, 2 * (np.arange(width) // 2) / width)[None, :]   # [1, E]
  angle = pos / freq                                                       # [L, E]
  table = np.zeros((length, width), np.float32)
  table[:, 0::2] = np.sin(angle[:, 0::2])
  table[:, 1::2] = np.cos(angle[:, 1::2])
  return table


class Embeddings(nn.Module):
  """input_ids [B, L] (+ token types, positions) -> embeddings [B, L, D].

  `word` is an `nn.Embed` whose `attend` ties the MLM decoder (heads.py).
  """
  config: EncoderConfig

  def setup(self):
    cfg = self.config
    dtype, param_dtype = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
    normal = nn.initializers.normal(cfg.initializer_range)
    self.word = nn.Embed(
        cfg.vocab_size, cfg.embed_size, dtype=dtype, param_dtype=param_dtype,
        embedding_init=nn.with_logical_partitioning(normal, ("vocab", "embed")))
    if cfg.position_embedding == "sinusoidal":
      sinusoid = lambda key, shape, dtype: jnp.asarray(sinusoidal_table(*shape), dtype)
      self.frozen_position = self.param(
          FROZEN_PREFIX + "position", nn.with_logical_partitioning(sinusoid, (None, "embed")),
          (cfg.max_position_embeddings, cfg.embed_size), param_dtype)     # [P, E]
    else:
      self.position = nn.Embed(
          cfg.max_position_embeddings, cfg.embed_size, dtype=dtype, param_dtype=param_dtype,
          embedding_init=nn.with_logical_partitioning(normal, (None, "embed")))
    if cfg.type_vocab_size:
      self.token_type = nn.Embed(
          cfg.type_vocab_size, cfg.embed_size, dtype=dtype, param_dtype=param_dtype,
          embedding_init=nn.with_logical_partitioning(normal, (None, "embed")))
    self.norm = layer_norm(cfg.layer_norm_eps, dtype, param_dtype)
    self.dropout = Dropout(cfg.dropout_rate, bits=cfg.dropout_bits)
    if cfg.factorised:
      self.projection = Dense((cfg.embed_size,), (cfg.hidden_size,), ("embed", "mlp"),
                              cfg.initializer_range, dtype, param_dtype)

  def positions(self, position_ids: Array) -> Array:
    """int position ids [B|1, L] -> [B|1, L, E]."""
    if self.config.position_embedding == "learned":
      return self.position(position_ids)
    table = jax.lax.stop_gradient(self.frozen_position)                  # [P, E]
    return jnp.take(table, position_ids, axis=0).astype(self.config.dtype)

  def __call__(self, input_ids: Array, token_type_ids: Array | None = None,
               position_ids: Array | None = None, deterministic: bool = True) -> Array:
    """int32 ids [B, L] -> [B, L, D] in the compute dtype."""
    if position_ids is None:
      position_ids = jnp.arange(input_ids.shape[1])[None, :]               # [1, L]
    x = self.word(input_ids) + self.positions(position_ids)                 # [B, L, E]
    if self.config.type_vocab_size:
      if token_type_ids is None:
        token_type_ids = jnp.zeros_like(input_ids)
      x = x + self.token_type(token_type_ids)
    x = self.dropout(self.norm(x), deterministic=deterministic)
    if self.config.factorised:
      x = self.projection(x)                                               # [B, L, D]
    return x
