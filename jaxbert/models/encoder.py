"""The encoder: embeddings, then a stack of transformer layers whose parameters may be
shared across depth (Devlin et al. 2019, §3; Lan et al. 2020, §3.1 "Cross-layer
parameter sharing").

Layer i of N uses parameter group g = i * G // N. Since G divides N, the stack is G
groups applied R = N // G times each; one group holds `inner_group_num` layers.
Parameters are stored stacked over groups ([G, ...], logical axis "layers"), the same
for the scanned and the unrolled stack, so checkpoints do not depend on that choice:

  outer nn.scan over G groups   (parameters sliced per group)
    inner nn.scan over R repeats (parameters broadcast: shared)
      inner_group_num TransformerLayers

BERT and DistilBERT: G = N, R = 1. ALBERT: G = 1, R = N.

Dimension legend: B batch, L length, D hidden, N layers, G groups, R repeats.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxbert.configs import EncoderConfig
from jaxbert.models.embeddings import Embeddings
from jaxbert.models.layers import TransformerLayer, make_attention_mask

Array = jax.Array

REMAT_POLICIES = {
    "full": None,  # save nothing: recompute the whole layer in the backward pass
    "dots": jax.checkpoint_policies.checkpoint_dots,
    "dots_no_batch": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
}


class Group(nn.Module):
  """`inner_group_num` transformer layers with their own parameters; a scan body."""
  config: EncoderConfig
  deterministic: bool = True

  @nn.compact
  def __call__(self, x: Array, mask: Array) -> tuple[Array, Array]:
    """x [B, L, D] -> (carry [B, L, D], output [B, L, D]) for nn.scan."""
    cfg = self.config
    for i in range(cfg.inner_group_num):
      x = TransformerLayer(
          cfg.hidden_size, cfg.num_heads, cfg.intermediate_size, cfg.hidden_act,
          cfg.layer_norm_eps, cfg.dropout_rate, cfg.attention_dropout_rate,
          cfg.initializer_range, cfg.attention_impl, jnp.dtype(cfg.dtype),
          jnp.dtype(cfg.param_dtype), cfg.attention_output_dropout, cfg.dropout_bits,
          name=f"layer_{i}")(x, mask, self.deterministic)
    return x, x


class SharedGroup(nn.Module):
  """One parameter group applied R times in a row (ALBERT's sharing)."""
  config: EncoderConfig
  deterministic: bool = True

  @nn.compact
  def __call__(self, x: Array, mask: Array) -> tuple[Array, Array]:
    """x [B, L, D] -> (carry [B, L, D], outputs [R, B, L, D])."""
    cfg = self.config
    body = Group
    if cfg.remat_policy != "none":
      body = nn.remat(Group, policy=REMAT_POLICIES[cfg.remat_policy],
                      prevent_cse=not cfg.scan_layers)
    repeat = nn.scan(body, variable_broadcast="params",
                     split_rngs={"params": False, "dropout": True},
                     in_axes=nn.broadcast, length=cfg.repeats,
                     unroll=1 if cfg.scan_layers else cfg.repeats)
    return repeat(cfg, self.deterministic, name="group")(x, mask)


class LayerStack(nn.Module):
  """N transformer layers in G parameter groups; returns every layer's output."""
  config: EncoderConfig

  @nn.compact
  def __call__(self, x: Array, mask: Array, deterministic: bool = True
               ) -> tuple[Array, Array]:
    """x [B, L, D] -> (last [B, L, D], per-layer outputs [N, B, L, D])."""
    cfg = self.config
    groups = nn.scan(SharedGroup, variable_axes={"params": 0},
                     split_rngs={"params": True, "dropout": True},
                     in_axes=nn.broadcast, length=cfg.groups,
                     unroll=1 if cfg.scan_layers else cfg.groups,
                     metadata_params={nn.PARTITION_NAME: "layers"})
    x, outputs = groups(cfg, deterministic, name="groups")(x, mask)  # outputs [G, R, B, L, D]
    return x, outputs.reshape((cfg.num_layers,) + outputs.shape[2:])


class Encoder(nn.Module):
  """Embeddings followed by the layer stack.

  Returns (last hidden state [B, L, D], hidden states: a tuple of N + 1 arrays
  [B, L, D], the embeddings' output first).
  """
  config: EncoderConfig

  def setup(self):
    self.embeddings = Embeddings(self.config)
    self.layers = LayerStack(self.config)

  def __call__(self, input_ids: Array, attention_mask: Array | None = None,
               token_type_ids: Array | None = None, position_ids: Array | None = None,
               segment_ids: Array | None = None, deterministic: bool = True
               ) -> tuple[Array, tuple[Array, ...]]:
    batch, length = input_ids.shape
    mask = make_attention_mask(attention_mask, segment_ids, batch, length)  # [B, 1, L|1, L]
    x = self.embeddings(input_ids, token_type_ids, position_ids, deterministic)
    x = nn.with_logical_constraint(x, ("act_batch", "act_len", "act_embed"))
    last, outputs = self.layers(x, mask, deterministic)
    return last, (x,) + tuple(outputs)
