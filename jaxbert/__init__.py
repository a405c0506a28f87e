"""jaxbert: BERT, ALBERT and DistilBERT in JAX and Flax.

    model, params = jaxbert.from_pretrained("dir")    # a Hugging Face directory
    out = model.apply({"params": params}, input_ids, attention_mask=mask)
    jax.jit(fn, compiler_options=jaxbert.compiler_options())  # jaxbert/xla.py
    jaxbert.save_pretrained("out_dir", model, params, tokenizer=tok)  # + tokenizer files
"""

from jaxbert import lazy
from jaxbert.configs import PRESETS, EncoderConfig, get_config

# The models (JAX, Flax) load on first use: `import jaxbert.data.preparation` stays light.
__getattr__, __dir__ = lazy.attach(__name__, {
    **dict.fromkeys(["EncoderOutput", "PretrainingModel", "QuestionAnswerer",
                     "SequenceClassifier", "TaskOutput", "TokenClassifier", "check_inputs"],
                    "jaxbert.models"),
    "compiler_options": "jaxbert.xla"})


def from_pretrained(path, **overrides):
  """Load a Hugging Face BERT/ALBERT/DistilBERT directory: (model, params); the model
  has the checkpoint's heads (PretrainingModel, or a task model for *ForSequence-
  Classification, *ForTokenClassification, *ForQuestionAnswering)."""
  from jaxbert.convert.hf import from_pretrained as _load
  return _load(path, **overrides)


def save_pretrained(path, model, params, tokenizer=None):
  """Write config.json + model.safetensors loadable by transformers' PyTorch classes, and
  with `tokenizer` (a jaxbert Tokenizer or its directory) the tokenizer files."""
  from jaxbert.convert.hf import save_pretrained as _save
  return _save(path, model, params, tokenizer)


def init_params(model, seed: int = 0, length: int = 8):
  """Random parameters of `model` (plain arrays, logical annotations removed)."""
  import flax.linen as nn
  import jax
  import jax.numpy as jnp
  ids = jnp.zeros((1, length), jnp.int32)
  init = jax.jit(lambda key: nn.unbox(model.init(key, ids))["params"])  # eager init is slow
  return init(jax.random.key(seed))


__all__ = ["EncoderConfig", "EncoderOutput", "PRESETS", "PretrainingModel", "QuestionAnswerer",
           "SequenceClassifier", "TaskOutput", "TokenClassifier", "check_inputs",
           "compiler_options", "from_pretrained", "get_config", "init_params", "save_pretrained"]
