"""The transformer layer of BERT (Devlin et al. 2019, §3; Vaswani et al. 2017, §3.2-3.3).

One post-LayerNorm layer: multi-head self-attention, then a position-wise MLP, each
wrapped as LayerNorm(x + Dropout(sublayer(x))). ALBERT and DistilBERT use the same
layer; DistilBERT has no dropout after the attention output (`attention_output_dropout`
False: LN(x + Attn(x))), and their checkpoints name its parameters differently
(jaxbert/convert/).

Leaf modules take plain numbers, so attention and the MLP can be built and tested
alone. Dimension legend:
  B batch, L query length, S key length, D hidden, H heads, K head dim, F MLP width.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxbert.models.dropout import Dropout

Array = jax.Array

# Hugging Face's ACT2FN names -> functions ("gelu" is the exact erf form).
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_fast": functools.partial(jax.nn.gelu, approximate=True),
    "quick_gelu": lambda x: x * jax.nn.sigmoid(1.702 * x),
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "tanh": jnp.tanh,
}


def dense_init(stddev: float, axes: tuple[str | None, ...]) -> nn.initializers.Initializer:
  """BERT's N(0, stddev) kernel initialiser, annotated with logical axis names."""
  return nn.with_logical_partitioning(nn.initializers.normal(stddev), axes)


def zeros_init(axes: tuple[str | None, ...]) -> nn.initializers.Initializer:
  return nn.with_logical_partitioning(nn.initializers.zeros_init(), axes)


class Dense(nn.Module):
  """y = x W + b, contracting the last `len(in_shape)` axes of x.

  Kernel shape in_shape + out_shape, bias out_shape; both carry logical axis names.
  """
  in_shape: tuple[int, ...]
  out_shape: tuple[int, ...]
  kernel_axes: tuple[str | None, ...]
  init_stddev: float = 0.02
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    n_in, n_out = len(self.in_shape), len(self.out_shape)
    kernel = self.param("kernel", dense_init(self.init_stddev, self.kernel_axes),
                        self.in_shape + self.out_shape, self.param_dtype)
    bias = self.param("bias", zeros_init(self.kernel_axes[n_in:]), self.out_shape,
                      self.param_dtype)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    contract = (tuple(range(x.ndim - n_in, x.ndim)), tuple(range(n_in)))
    y = jax.lax.dot_general(x, kernel, (contract, ((), ())))
    return y + bias.reshape((1,) * (y.ndim - n_out) + self.out_shape)


def layer_norm(eps: float, dtype, param_dtype, name: str | None = None) -> nn.LayerNorm:
  """LayerNorm with float32 statistics (two-pass variance) and logical axis names."""
  return nn.LayerNorm(
      epsilon=eps, dtype=dtype, param_dtype=param_dtype, use_fast_variance=False,
      force_float32_reductions=True, name=name,
      scale_init=nn.with_logical_partitioning(nn.initializers.ones_init(), ("embed",)),
      bias_init=zeros_init(("embed",)))


def make_attention_mask(attention_mask: Array | None, segment_ids: Array | None,
                   batch: int, length: int) -> Array:
  """Boolean mask [B, 1, L|1, S]: True where a query may attend to a key.

  `attention_mask` [B, S] (1 = real token) masks padded keys. `segment_ids` [B, L]
  (1..n per packed sequence, 0 = padding) additionally keeps attention inside each
  packed sequence.
  """
  if segment_ids is not None:
    same = segment_ids[:, :, None] == segment_ids[:, None, :]             # [B, L, S]
    return (same & (segment_ids[:, None, :] > 0))[:, None, :, :]           # [B, 1, L, S]
  if attention_mask is None:
    return jnp.ones((batch, 1, 1, length), dtype=bool)
  return (attention_mask > 0)[:, None, None, :]                            # [B, 1, 1, S]


class SelfAttention(nn.Module):
  """Multi-head scaled dot-product self-attention with an output projection.

  softmax(Q K^T / sqrt(K)) V per head, the softmax in float32. `implementation`:
  None writes the product out as two einsums (measured 1.09x faster than
  `jax.nn.dot_product_attention` on CPU, whose XLA path adds a grouped-query axis and
  copies the probabilities: benchmarks/results/optimisations.md), and is the path
  that drops attention probabilities as BERT does; "xla" or "cudnn" calls
  `jax.nn.dot_product_attention` with that implementation ("cudnn": flash attention
  on GPU, bf16/fp16 only, no attention dropout).
  """
  hidden: int                       # D
  heads: int                        # H
  dropout_rate: float = 0.0
  init_stddev: float = 0.02
  implementation: str | None = None
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32
  dropout_bits: str = "threefry"    # jaxbert/models/dropout.py

  @nn.compact
  def __call__(self, x: Array, mask: Array, deterministic: bool = True) -> Array:
    """x [B, L, D], mask bool [B, 1, L|1, L] -> [B, L, D]."""
    head_dim = self.hidden // self.heads                                   # K
    proj = functools.partial(Dense, (self.hidden,), (self.heads, head_dim),
                             ("embed", "heads", "kv"), self.init_stddev, self.dtype,
                             self.param_dtype)
    q = proj(name="query")(x)                                              # [B, L, H, K]
    k = proj(name="key")(x)                                                # [B, S, H, K]
    v = proj(name="value")(x)                                              # [B, S, H, K]
    drop = self.dropout_rate > 0.0 and not deterministic
    if self.implementation is None or drop:
      logits = jnp.einsum("BLHK,BSHK->BHLS", q, k,
                          preferred_element_type=jnp.float32) / math.sqrt(head_dim)
      logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)         # [B, H, L, S]
      probs = jax.nn.softmax(logits, axis=-1)
      if drop:
        probs = Dropout(self.dropout_rate, bits=self.dropout_bits)(probs, deterministic=False)
      ctx = jnp.einsum("BHLS,BSHK->BLHK", probs.astype(v.dtype), v)        # [B, L, H, K]
    else:
      ctx = jax.nn.dot_product_attention(q, k, v, mask=mask,
                                         implementation=self.implementation)  # [B, L, H, K]
    return Dense((self.heads, head_dim), (self.hidden,), ("heads", "kv", "embed"),
                 self.init_stddev, self.dtype, self.param_dtype, name="output")(ctx)


class Mlp(nn.Module):
  """Position-wise feed-forward network: act(x W1 + b1) W2 + b2, [B, L, D] -> [B, L, D]."""
  hidden: int                       # D
  intermediate: int                 # F
  activation: str = "gelu"
  init_stddev: float = 0.02
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    h = Dense((self.hidden,), (self.intermediate,), ("embed", "mlp"), self.init_stddev,
              self.dtype, self.param_dtype, name="intermediate")(x)        # [B, L, F]
    h = ACTIVATIONS[self.activation](h)
    return Dense((self.intermediate,), (self.hidden,), ("mlp", "embed"), self.init_stddev,
                 self.dtype, self.param_dtype, name="output")(h)           # [B, L, D]


class TransformerLayer(nn.Module):
  """Post-LN layer: x = LN(x + Drop(Attn(x))); x = LN(x + Drop(Mlp(x))).

  attention_output_dropout=False drops the first Drop (DistilBERT).
  """
  hidden: int
  heads: int
  intermediate: int
  activation: str = "gelu"
  layer_norm_eps: float = 1e-12
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  init_stddev: float = 0.02
  attention_impl: str | None = None
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32
  attention_output_dropout: bool = True
  dropout_bits: str = "threefry"

  @nn.compact
  def __call__(self, x: Array, mask: Array, deterministic: bool = True) -> Array:
    """x [B, L, D] -> [B, L, D]."""
    a = SelfAttention(self.hidden, self.heads, self.attention_dropout_rate, self.init_stddev,
                      self.attention_impl, self.dtype, self.param_dtype, self.dropout_bits,
                      name="attention")(x, mask, deterministic)
    drop = functools.partial(Dropout, self.dropout_rate, bits=self.dropout_bits)
    if self.attention_output_dropout:
      a = drop()(a, deterministic=deterministic)
    x = layer_norm(self.layer_norm_eps, self.dtype, self.param_dtype, "attention_norm")(x + a)
    h = Mlp(self.hidden, self.intermediate, self.activation, self.init_stddev, self.dtype,
            self.param_dtype, name="mlp")(x)
    h = drop()(h, deterministic=deterministic)
    x = layer_norm(self.layer_norm_eps, self.dtype, self.param_dtype, "mlp_norm")(x + h)
    return nn.with_logical_constraint(x, ("act_batch", "act_len", "act_embed"))
