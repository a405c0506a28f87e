"""Hugging Face interoperability: config and checkpoint import/export (safetensors only)."""

from jaxbert import lazy

# Loaded on first use: the SentencePiece reader (spiece.py) needs neither JAX nor torch.
__getattr__, __dir__ = lazy.attach(__name__, {
    **dict.fromkeys(["count_params", "from_pretrained", "param_shapes", "save_pretrained"],
                    "jaxbert.convert.hf"),
    **dict.fromkeys(["config_from_hf", "config_to_hf", "family_of"],
                    "jaxbert.convert.hf_config")})

__all__ = ["config_from_hf", "config_to_hf", "count_params", "family_of", "from_pretrained",
           "param_shapes", "save_pretrained"]
