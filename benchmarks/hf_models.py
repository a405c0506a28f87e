"""Hugging Face configs and classes with the same shapes as a jaxbert EncoderConfig.

Random initialisation from a config, never a hub name (no network). The family is
read from the config's fields, as jaxbert itself does: a factorised embedding or
shared layers -> ALBERT; no token types and no pooler -> DistilBERT; else BERT.
"""

from __future__ import annotations

from jaxbert.configs import EncoderConfig


def family(cfg: EncoderConfig) -> str:
  if cfg.factorised or cfg.groups < cfg.num_layers:
    return "albert"
  if cfg.type_vocab_size == 0 and not cfg.pooler:
    return "distilbert"
  return "bert"


def hf_config(cfg: EncoderConfig, attn_implementation: str | None = "sdpa"):
  import transformers as tr
  extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
  fam = family(cfg)
  if fam == "albert":
    return tr.AlbertConfig(
        vocab_size=cfg.vocab_size, embedding_size=cfg.embed_size, hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers, num_hidden_groups=cfg.groups,
        inner_group_num=cfg.inner_group_num, num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size, hidden_act=cfg.hidden_act,
        hidden_dropout_prob=cfg.dropout_rate,
        attention_probs_dropout_prob=cfg.attention_dropout_rate,
        max_position_embeddings=cfg.max_position_embeddings,
        type_vocab_size=cfg.type_vocab_size, layer_norm_eps=cfg.layer_norm_eps, **extra)
  if fam == "distilbert":
    return tr.DistilBertConfig(
        vocab_size=cfg.vocab_size, dim=cfg.hidden_size, n_layers=cfg.num_layers,
        n_heads=cfg.num_heads, hidden_dim=cfg.intermediate_size, activation=cfg.hidden_act,
        dropout=cfg.dropout_rate, attention_dropout=cfg.attention_dropout_rate,
        max_position_embeddings=cfg.max_position_embeddings,
        sinusoidal_pos_embds=False, **extra)
  return tr.BertConfig(
      vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size,
      num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
      intermediate_size=cfg.intermediate_size, hidden_act=cfg.hidden_act,
      hidden_dropout_prob=cfg.dropout_rate,
      attention_probs_dropout_prob=cfg.attention_dropout_rate,
      max_position_embeddings=cfg.max_position_embeddings,
      type_vocab_size=max(cfg.type_vocab_size, 1), layer_norm_eps=cfg.layer_norm_eps, **extra)


def classes(cfg: EncoderConfig, flax: bool = False) -> dict:
  """{"mlm": ...ForMaskedLM, "base": ...Model} of the config's family."""
  import transformers as tr
  prefix = "Flax" if flax else ""
  name = {"bert": "Bert", "albert": "Albert", "distilbert": "DistilBert"}[family(cfg)]
  return {"mlm": getattr(tr, f"{prefix}{name}ForMaskedLM"),
          "base": getattr(tr, f"{prefix}{name}Model")}


def model_inputs(cfg: EncoderConfig, batch: dict, to) -> dict:
  """input_ids / attention_mask (/ token_type_ids) converted with `to`."""
  keys = ["input_ids", "attention_mask"] + (["token_type_ids"] if family(cfg) != "distilbert"
                                            else [])
  return {k: to(batch[k]) for k in keys}
