"""The tokenizer files of a Hugging Face export, so that `AutoTokenizer` and
`pipeline(...)` of transformers 4.x and 5.x load the export as is.

    write_tokenizer("out", tokenizer, model_max_length=512, token_types=True)

writes, next to config.json and model.safetensors:

  tokenizer.json           the `tokenizers` pipeline itself (normaliser, WordPiece, [CLS]/[SEP])
  vocab.txt                one token per line, line number = id (BERT's slow tokenizer)
  tokenizer_config.json    tokenizer_class BertTokenizer, do_lower_case, strip_accents,
                           model_max_length and the special tokens
  special_tokens_map.json  the special tokens again (read by transformers 4.x)

Without them transformers 5.x builds a tokenizer with an empty vocabulary, silently:
every word becomes [UNK]. The class is BertTokenizer whatever the model (BERT, ALBERT
or DistilBERT): jaxbert trains and reads WordPiece vocabularies only.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:                       # jaxbert.data (grain, ...) is imported only when used
  from jaxbert.data.tokenizer import Tokenizer

SPECIAL_IDS = {"pad_token": "pad_id", "unk_token": "unk_id", "cls_token": "cls_id",
               "sep_token": "sep_id", "mask_token": "mask_id"}  # HF key -> Tokenizer attribute
FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def as_tokenizer(tokenizer: Tokenizer | str) -> Tokenizer:
  """A jaxbert Tokenizer, or one loaded from a directory with tokenizer.json / vocab.txt."""
  from jaxbert.data.tokenizer import Tokenizer, load_tokenizer
  return tokenizer if isinstance(tokenizer, Tokenizer) else load_tokenizer(tokenizer)


def special_tokens(tokenizer: Tokenizer) -> dict[str, str]:
  """{"pad_token": "[PAD]", ...}: HF's special-token keys and this vocabulary's tokens."""
  return {key: tokenizer.id_to_token[getattr(tokenizer, attr)] for key, attr in SPECIAL_IDS.items()}


def tokenizer_config(tokenizer: Tokenizer, model_max_length: int, token_types: bool) -> dict:
  """tokenizer_config.json of `tokenizer`: class, casing and the special tokens; a model
  without token types (DistilBERT) is not given token_type_ids (its forward refuses them)."""
  spec = json.loads(tokenizer.tok.to_str())
  norm = spec.get("normalizer") or {}
  if norm.get("type") != "BertNormalizer" or (spec.get("model") or {}).get("type") != "WordPiece":
    raise ValueError("only BERT WordPiece tokenizers (BertNormalizer + WordPiece) can be "
                     "exported for transformers' BertTokenizer; got normalizer "
                     f"{norm.get('type')!r}, model {(spec.get('model') or {}).get('type')!r}")
  specials = special_tokens(tokenizer)
  return {
      "tokenizer_class": "BertTokenizer",
      "do_lower_case": bool(norm.get("lowercase")),
      "strip_accents": norm.get("strip_accents"),     # None: follows do_lower_case
      "tokenize_chinese_chars": bool(norm.get("handle_chinese_chars", True)),
      "model_max_length": int(model_max_length),
      "clean_up_tokenization_spaces": False,
      "added_tokens_decoder": {str(getattr(tokenizer, SPECIAL_IDS[key])): {
          "content": t, "lstrip": False, "normalized": False, "rstrip": False,
          "single_word": False, "special": True} for key, t in specials.items()},
      **specials,
      **({} if token_types else {"model_input_names": ["input_ids", "attention_mask"]}),
  }


def write_tokenizer(path: str, tokenizer: Tokenizer | str, model_max_length: int,
                    token_types: bool = True) -> None:
  """Write FILES into `path` (each to a temporary, then renamed)."""
  tokenizer = as_tokenizer(tokenizer)
  config = tokenizer_config(tokenizer, model_max_length, token_types)
  texts = {
      "tokenizer.json": tokenizer.tok.to_str(pretty=True),
      "vocab.txt": "".join(t + "\n" for t in tokenizer.id_to_token),
      "tokenizer_config.json": json.dumps(config, indent=2, sort_keys=True),
      "special_tokens_map.json": json.dumps(special_tokens(tokenizer), indent=2),
  }
  os.makedirs(path, exist_ok=True)
  for name, text in texts.items():
    tmp = os.path.join(path, f"{name}.tmp{os.getpid()}")
    try:
      with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
      os.replace(tmp, os.path.join(path, name))
    finally:
      if os.path.exists(tmp):
        os.remove(tmp)
