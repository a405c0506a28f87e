"""The tokenizer files of a Hugging Face export, so that `AutoTokenizer` and
`pipeline(...)` of transformers 4.x and 5.x load the export as is.

    write_tokenizer("out", tokenizer, model_max_length=512, token_types=True)

writes, next to config.json and model.safetensors, for a WordPiece vocabulary (BERT's):

  tokenizer.json           the `tokenizers` pipeline itself (normaliser, WordPiece, [CLS]/[SEP])
  vocab.txt                one token per line, line number = id (BERT's slow tokenizer)
  tokenizer_config.json    tokenizer_class BertTokenizer, do_lower_case, strip_accents,
                           model_max_length and the special tokens
  special_tokens_map.json  the special tokens again (read by transformers 4.x)

and for a Unigram vocabulary (ALBERT's, jaxbert/data/unigram.py) tokenizer.json,
`spiece.model` (the SentencePiece model file of ALBERT's slow tokenizer, written by
unigram.to_spiece), tokenizer_config.json with tokenizer_class AlbertTokenizer,
do_lower_case, keep_accents and [MASK] taking the space before it (as ALBERT's), and
special_tokens_map.json. Without them transformers 5.x builds a tokenizer with an empty
vocabulary, silently: every word becomes [UNK]. The class follows the vocabulary, not
the model: a BERT model trained on a Unigram vocabulary gets AlbertTokenizer.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:                       # jaxbert.data (grain, ...) is imported only when used
  from jaxbert.data.tokenizer import Tokenizer

SPECIAL_IDS = {"pad_token": "pad_id", "unk_token": "unk_id", "cls_token": "cls_id",
               "sep_token": "sep_id", "mask_token": "mask_id"}  # HF key -> Tokenizer attribute
FILES = {"wordpiece": ("tokenizer.json", "vocab.txt", "tokenizer_config.json",
                       "special_tokens_map.json"),
         "unigram": ("tokenizer.json", "spiece.model", "tokenizer_config.json",
                     "special_tokens_map.json")}


def as_tokenizer(tokenizer: Tokenizer | str) -> Tokenizer:
  """A jaxbert Tokenizer, or one loaded from a directory (tokenizer.json, vocab.txt, spiece.model)."""
  from jaxbert.data.tokenizer import Tokenizer, load_tokenizer
  return tokenizer if isinstance(tokenizer, Tokenizer) else load_tokenizer(tokenizer)


def special_tokens(tokenizer: Tokenizer) -> dict[str, str]:
  """{"pad_token": "[PAD]", ...}: HF's special-token keys and this vocabulary's tokens."""
  return {key: tokenizer.id_to_token[getattr(tokenizer, attr)] for key, attr in SPECIAL_IDS.items()}


def _added_token(content: str, lstrip: bool = False) -> dict:
  return {"content": content, "lstrip": lstrip, "normalized": False, "rstrip": False,
          "single_word": False, "special": True}


def tokenizer_config(tokenizer: Tokenizer, model_max_length: int, token_types: bool) -> dict:
  """tokenizer_config.json of `tokenizer`: class, casing and the special tokens; a model
  without token types (DistilBERT) is not given token_type_ids (its forward refuses them),
  the others are, named (transformers 5's AlbertTokenizer leaves them out by default)."""
  spec = json.loads(tokenizer.tok.to_str())
  norm, kind = spec.get("normalizer") or {}, (spec.get("model") or {}).get("type")
  specials = special_tokens(tokenizer)
  if kind == "WordPiece" and norm.get("type") == "BertNormalizer":
    casing = {"tokenizer_class": "BertTokenizer", "do_lower_case": bool(norm.get("lowercase")),
              "strip_accents": norm.get("strip_accents"),     # None: follows do_lower_case
              "tokenize_chinese_chars": bool(norm.get("handle_chinese_chars", True))}
  elif kind == "Unigram":
    steps = {n.get("type") for n in norm.get("normalizers", [norm])}
    casing = {"tokenizer_class": "AlbertTokenizer", "do_lower_case": "Lowercase" in steps,
              "keep_accents": "StripAccents" not in steps, "remove_space": True,
              "bos_token": specials["cls_token"], "eos_token": specials["sep_token"]}
  else:
    raise ValueError("only WordPiece (BertNormalizer + WordPiece, for BertTokenizer) and "
                     "Unigram (for AlbertTokenizer) tokenizers can be exported; got normalizer "
                     f"{norm.get('type')!r}, model {kind!r}")
  return {
      **casing,
      "model_max_length": int(model_max_length),
      "clean_up_tokenization_spaces": False,
      "added_tokens_decoder": {str(getattr(tokenizer, SPECIAL_IDS[key])): _added_token(
          t, lstrip=kind == "Unigram" and key == "mask_token") for key, t in specials.items()},
      **specials,
      "model_input_names": ["input_ids"] + ["token_type_ids"] * token_types + ["attention_mask"],
  }


def write_tokenizer(path: str, tokenizer: Tokenizer | str, model_max_length: int,
                    token_types: bool = True) -> None:
  """Write FILES[tokenizer.model] into `path` (each to a temporary, then renamed)."""
  from jaxbert.data import unigram
  tokenizer = as_tokenizer(tokenizer)
  config = tokenizer_config(tokenizer, model_max_length, token_types)
  texts = {
      "tokenizer.json": tokenizer.tok.to_str(pretty=True),
      "tokenizer_config.json": json.dumps(config, indent=2, sort_keys=True),
      "special_tokens_map.json": json.dumps(special_tokens(tokenizer), indent=2),
  }
  if tokenizer.model == "unigram":
    texts["spiece.model"] = unigram.to_spiece(tokenizer.tok)
  else:
    texts["vocab.txt"] = "".join(t + "\n" for t in tokenizer.id_to_token)
  os.makedirs(path, exist_ok=True)
  for name, text in texts.items():
    tmp = os.path.join(path, f"{name}.tmp{os.getpid()}")
    try:
      with open(tmp, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode("utf-8"))
      os.replace(tmp, os.path.join(path, name))
    finally:
      if os.path.exists(tmp):
        os.remove(tmp)
