"""Hugging Face interoperability: config and checkpoint import/export (safetensors only)."""

from jaxbert.convert.hf import count_params, from_pretrained, param_shapes, save_pretrained
from jaxbert.convert.hf_config import config_from_hf, config_to_hf, family_of

__all__ = ["config_from_hf", "config_to_hf", "count_params", "family_of", "from_pretrained",
           "param_shapes", "save_pretrained"]
