"""Exports carry their tokenizer: AutoTokenizer, AutoModelFor... and pipeline(...) of
the installed transformers load a jaxbert export as is, with jaxbert's ids and outputs
(tests/convert/transformers_check.py; tests/convert/test_transformers5.py runs the same
checks against transformers 5.x)."""

import json
import os
import sys

import numpy as np
import pytest

import jaxbert

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
sys.path.insert(0, os.path.dirname(__file__))
import transformers_check  # noqa: E402  (the check script, imported as a module)


def zero_params(model):
  """Parameters of the right shapes, for tests where their values do not matter."""
  import jax
  from jaxbert.convert.hf import param_shapes
  return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), param_shapes(model))


def test_export_loads_in_installed_transformers(exports):
  for name, directory in sorted(exports.items()):
    result = transformers_check.check(directory)
    print(name, result)
    assert result["ids"] == "equal" and result["pipeline"]


def test_tokenizer_files(exports, tokenizer):
  directory = exports["bert-masked_lm"]
  with open(os.path.join(directory, "tokenizer_config.json")) as f:
    config = json.load(f)
  assert config["tokenizer_class"] == "BertTokenizer" and config["do_lower_case"] is True
  assert config["model_max_length"] == 40
  assert (config["mask_token"], config["pad_token"]) == ("[MASK]", "[PAD]")
  with open(os.path.join(directory, "vocab.txt")) as f:
    assert f.read().split("\n")[:-1] == tokenizer.id_to_token
  with open(os.path.join(exports["distilbert-masked_lm"], "tokenizer_config.json")) as f:
    assert json.load(f)["model_input_names"] == ["input_ids", "attention_mask"]


def test_unigram_tokenizer_files(exports, unigram_tokenizer):
  """ALBERT's files for a Unigram vocabulary: AlbertTokenizer, tokenizer.json and
  spiece.model, no vocab.txt. The spiece.model as transformers converts it
  (AlbertConverter) and, with sentencepiece installed, ALBERT's slow tokenizer give
  jaxbert's ids (AutoTokenizer's are checked by test_export_loads_in_installed_transformers)."""
  import types
  from transformers.convert_slow_tokenizer import AlbertConverter
  tok, directory = unigram_tokenizer, exports["albert-masked_lm-unigram"]
  assert sorted(f for f in os.listdir(directory) if not f.startswith(("expected", "config",
                                                                      "model"))) == [
      "special_tokens_map.json", "spiece.model", "tokenizer.json", "tokenizer_config.json"]
  with open(os.path.join(directory, "tokenizer_config.json")) as f:
    config = json.load(f)
  assert (config["tokenizer_class"], config["do_lower_case"], config["keep_accents"]) == (
      "AlbertTokenizer", True, False)
  assert [config[k] for k in ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")] == [
      "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
  assert config["added_tokens_decoder"]["4"]["lstrip"] is True        # as ALBERT's [MASK]
  texts = ["The state of the Union is strong.", "Résumé of the CAFÉ,  1,024 dollars!",
           "zebras quixotically jump", "We hold these truths -- (all men) are equal?"]
  ours = [[tok.cls_id] + ids + [tok.sep_id] for ids in tok.encode_batch(texts)]
  spm = os.path.join(directory, "spiece.model")
  converted = AlbertConverter(types.SimpleNamespace(
      vocab_file=spm, keep_accents=False, do_lower_case=True,
      convert_tokens_to_ids=tok.id_to_token.index)).converted()
  assert [converted.encode(t).ids for t in texts] == ours
  if transformers.utils.is_sentencepiece_available():
    slow = transformers.AlbertTokenizer.from_pretrained(directory)
    assert [slow(t)["input_ids"] for t in texts] == ours


def test_cased_tokenizer_round_trip(tmp_path):
  """A cased vocabulary stays cased in transformers: ids equal on mixed-case text."""
  from jaxbert.data.tokenizer import train_tokenizer
  tok = train_tokenizer(["The Union and the union. Café CAFÉ café."] * 8, 60, lowercase=False)
  cfg = jaxbert.get_config("bert-tiny", vocab_size=tok.vocab_size, max_position_embeddings=16)
  model = jaxbert.PretrainingModel(cfg)
  jaxbert.save_pretrained(str(tmp_path), model, zero_params(model), tokenizer=tok)
  theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
  text = "The UNION, the Café union"
  assert theirs(text)["input_ids"] == [tok.cls_id] + tok.encode(text) + [tok.sep_id]


def test_bad_tokenizer_refused_before_writing(tmp_path, tokenizer):
  import tokenizers
  from jaxbert.data.tokenizer import Tokenizer
  cfg = jaxbert.get_config("bert-tiny", vocab_size=64, max_position_embeddings=16)
  model = jaxbert.PretrainingModel(cfg)
  params = zero_params(model)
  with pytest.raises(ValueError, match="tokenizer has 1.. tokens but the model's embedding"):
    jaxbert.save_pretrained(str(tmp_path / "small"), model, params, tokenizer=tokenizer)
  bpe = tokenizers.Tokenizer(tokenizers.models.WordLevel(
      {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])},
      unk_token="[UNK]"))
  with pytest.raises(ValueError, match="only WordPiece .* and Unigram .* can be exported"):
    jaxbert.save_pretrained(str(tmp_path / "bpe"), model, params, tokenizer=Tokenizer(bpe))
  with pytest.raises(ValueError, match="neither tokenizer.json nor vocab.txt"):
    jaxbert.save_pretrained(str(tmp_path / "none"), model, params, tokenizer=str(tmp_path))
  assert not any(os.path.exists(tmp_path / d) for d in ("small", "bpe", "none"))


def test_run_export_writes_the_tokenizer(tmp_path, tokenizer):
  """train.cli.export_hf (the end of pretraining and distillation) passes the tokenizer."""
  from train import cli
  cfg = jaxbert.get_config("bert-tiny", vocab_size=tokenizer.vocab_size,
                           max_position_embeddings=16)
  model = jaxbert.PretrainingModel(cfg)
  cli.export_hf(str(tmp_path), model, zero_params(model), tokenizer=tokenizer)
  assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "vocab.txt"} <= set(os.listdir(tmp_path))


def test_export_loads_in_transformers5(exports, transformers5):
  """The same checks in a subprocess against the newest transformers 5.x (conftest)."""
  import subprocess
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [transformers5["path"]] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
             HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
  script = os.path.join(os.path.dirname(__file__), "transformers_check.py")
  proc = subprocess.run([sys.executable, script, *sorted(exports.values())], env=env,
                        capture_output=True, text=True, timeout=600)
  lines = [l for l in proc.stdout.splitlines() if l.startswith(("{", "FAIL"))]
  print(f"transformers {transformers5['version']} (install {transformers5['install_s']} s,"
        f" cached={transformers5['cached']})", *lines, sep="\n")
  assert proc.returncode == 0, "\n".join(lines) or proc.stderr[-3000:]
  results = [json.loads(l) for l in lines]
  assert len(results) == len(exports)
  assert all(r["transformers"] == transformers5["version"] != transformers.__version__
             for r in results)
