"""Strict import: missing / unexpected / mis-shaped tensors, corrupt files, unsupported
configs and pickle-only directories all stop with one ValueError naming the problem."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

import jaxbert
from jaxbert.convert import safetensors_io


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory, hf_tools):
  return hf_tools.build_reference("bert-relu", tmp_path_factory.mktemp("bert"))["dir"]


def variant(src, dst, edit_tensors=None, edit_config=None):
  """A copy of checkpoint `src` in `dst` with its tensors / config edited."""
  shutil.copytree(src, dst)
  if edit_tensors:
    tensors = dict(safetensors_io.read(os.path.join(src, "model.safetensors")))
    edit_tensors(tensors)
    safetensors_io.write(os.path.join(dst, "model.safetensors"), tensors)
  if edit_config:
    config = json.load(open(os.path.join(src, "config.json")))
    edit_config(config)
    json.dump(config, open(os.path.join(dst, "config.json"), "w"))
  return str(dst)


def test_all_problems_in_one_error(bert_dir, tmp_path):
  def edit(t):
    del t["bert.encoder.layer.1.attention.self.key.weight"]
    t["bert.encoder.layer.7.extra.weight"] = np.zeros((3,), np.float32)
    t["bert.encoder.layer.0.intermediate.dense.weight"] = np.zeros((47, 32), np.float32)
  with pytest.raises(ValueError) as e:
    jaxbert.from_pretrained(variant(bert_dir, tmp_path / "v", edit))
  msg = str(e.value)
  assert "missing tensors" in msg and "bert.encoder.layer.1.attention.self.key.weight" in msg
  assert "unexpected tensors" in msg and "bert.encoder.layer.7.extra.weight" in msg
  assert "bert.encoder.layer.0.intermediate.dense.weight" in msg and "(47, 32)" in msg


def test_buffers_and_equal_tied_copies_are_accepted(bert_dir, tmp_path, hf_tools):
  def edit(t):
    t["bert.embeddings.position_ids"] = np.arange(24)[None]
    t["cls.predictions.decoder.weight"] = t["bert.embeddings.word_embeddings.weight"].copy()
    t["cls.predictions.decoder.bias"] = t["cls.predictions.bias"].copy()
  _, params = jaxbert.from_pretrained(variant(bert_dir, tmp_path / "v", edit))
  _, reference = jaxbert.from_pretrained(bert_dir)
  assert hf_tools.max_diff(params["mlm"]["bias"], reference["mlm"]["bias"]) == 0


def test_untied_decoder_is_refused(bert_dir, tmp_path):
  def edit(t):
    t["cls.predictions.decoder.weight"] = t["bert.embeddings.word_embeddings.weight"] + 1
  with pytest.raises(ValueError, match="cls.predictions.decoder.weight"):
    jaxbert.from_pretrained(variant(bert_dir, tmp_path / "v", edit))


@pytest.mark.parametrize("keep", [0, 5, 100, -7])
def test_truncated_or_corrupt_file(bert_dir, tmp_path, keep):
  path = variant(bert_dir, tmp_path / "v")
  file = os.path.join(path, "model.safetensors")
  blob = open(file, "rb").read()
  open(file, "wb").write(blob[:keep])
  with pytest.raises(ValueError, match="model.safetensors"):
    jaxbert.from_pretrained(path)


def test_garbage_header(bert_dir, tmp_path):
  path = variant(bert_dir, tmp_path / "v")
  file = os.path.join(path, "model.safetensors")
  open(file, "wb").write((16).to_bytes(8, "little") + b"not json at all!" + b"\0" * 64)
  with pytest.raises(ValueError, match="corrupt"):
    jaxbert.from_pretrained(path)


def test_unsupported_model_type(bert_dir, tmp_path):
  path = variant(bert_dir, tmp_path / "v", edit_config=lambda c: c.update(model_type="roberta"))
  with pytest.raises(ValueError, match="roberta"):
    jaxbert.from_pretrained(path)


def test_unsupported_activation_and_position_type(bert_dir, tmp_path):
  path = variant(bert_dir, tmp_path / "a", edit_config=lambda c: c.update(hidden_act="mish"))
  with pytest.raises(ValueError, match="mish"):
    jaxbert.from_pretrained(path)
  path = variant(bert_dir, tmp_path / "p",
                 edit_config=lambda c: c.update(position_embedding_type="relative_key"))
  with pytest.raises(ValueError, match="relative_key"):
    jaxbert.from_pretrained(path)


def test_missing_config_and_pickle_only(bert_dir, tmp_path):
  path = variant(bert_dir, tmp_path / "v")
  os.remove(os.path.join(path, "config.json"))
  with pytest.raises(ValueError, match="config.json"):
    jaxbert.from_pretrained(path)
  path = variant(bert_dir, tmp_path / "w")
  os.rename(os.path.join(path, "model.safetensors"), os.path.join(path, "pytorch_model.bin"))
  with pytest.raises(ValueError, match="only safetensors"):
    jaxbert.from_pretrained(path)


def test_sharded_checkpoint(bert_dir, tmp_path, hf_tools):
  path = variant(bert_dir, tmp_path / "v")
  tensors = safetensors_io.read(os.path.join(path, "model.safetensors"))
  os.remove(os.path.join(path, "model.safetensors"))
  names = sorted(tensors)
  shards = {"model-00001-of-00002.safetensors": names[::2],
            "model-00002-of-00002.safetensors": names[1::2]}
  for shard, keys in shards.items():
    safetensors_io.write(os.path.join(path, shard), {k: tensors[k] for k in keys})
  weight_map = {k: shard for shard, keys in shards.items() for k in keys}
  json.dump({"weight_map": weight_map},
            open(os.path.join(path, "model.safetensors.index.json"), "w"))
  _, params = jaxbert.from_pretrained(path)
  _, reference = jaxbert.from_pretrained(bert_dir)
  assert all(hf_tools.max_diff(a, b) == 0 for a, b in zip(
      jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(reference)))


def test_unknown_override(bert_dir):
  with pytest.raises(ValueError, match="no_such_field"):
    jaxbert.from_pretrained(bert_dir, no_such_field=1)


def test_reader_matches_safetensors_library(bert_dir, tmp_path):
  """Our reader/writer agree with the reference safetensors implementation."""
  from safetensors.numpy import load_file, save_file
  ours = safetensors_io.read(os.path.join(bert_dir, "model.safetensors"))
  theirs = load_file(os.path.join(bert_dir, "model.safetensors"))
  assert sorted(ours) == sorted(theirs)
  assert all(np.array_equal(ours[k], theirs[k]) for k in ours)
  safetensors_io.write(str(tmp_path / "x.safetensors"), ours)
  back = load_file(str(tmp_path / "x.safetensors"))
  assert all(np.array_equal(ours[k], back[k]) for k in ours)
  save_file({"a": np.arange(6, dtype=np.int64).reshape(2, 3)}, str(tmp_path / "y.safetensors"))
  assert np.array_equal(safetensors_io.read(str(tmp_path / "y.safetensors"))["a"],
                        np.arange(6).reshape(2, 3))
