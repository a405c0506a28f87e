"""Export: jaxbert.save_pretrained -> transformers' PyTorch classes load it with no
missing or unexpected keys and give the same outputs; export -> import is exact."""

import json
import os

import jax
import numpy as np
import pytest

import jaxbert

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TOL = 1e-5
NAMES = ["bert-gelu_new-odd", "albert-2groups-inner2", "albert-shared", "distilbert-sinusoidal"]


def init(model):
  return jaxbert.init_params(model, seed=0, length=4)


def leaves_equal(a, b):
  fa, fb = jax.tree_util.tree_flatten_with_path(a)[0], jax.tree_util.tree_flatten_with_path(b)[0]
  assert [p for p, _ in fa] == [p for p, _ in fb]
  return all(np.array_equal(np.asarray(x), np.asarray(y)) for (_, x), (_, y) in zip(fa, fb))


@pytest.mark.parametrize("name", NAMES)
def test_export_loads_in_transformers(name, hf_tools, run_jax, tmp_path):
  ref = hf_tools.build_reference(name, tmp_path / "ref")
  model, params = jaxbert.from_pretrained(ref["dir"], scan_layers=False)
  out_dir = str(tmp_path / "export")
  jaxbert.save_pretrained(out_dir, model, params)
  config = json.load(open(os.path.join(out_dir, "config.json")))
  assert config["architectures"] == [hf_tools.CASES[name][1]]
  assert config["model_type"] == ref["config"].model_type
  hf_class = getattr(transformers, config["architectures"][0])
  loaded, info = hf_class.from_pretrained(out_dir, output_loading_info=True)
  assert not any(info.values()), info
  loaded.eval()
  theirs = hf_tools.torch_outputs(loaded, ref["inputs"])
  for key in ("mlm_logits", "sentence_logits", "last_hidden_state"):
    if key in ref["outputs"]:
      assert hf_tools.max_diff(theirs[key], ref["outputs"][key]) <= TOL, key
  # ... and back: identical parameters.
  model2, params2 = jaxbert.from_pretrained(out_dir)
  assert model2.config == model.config.replace(scan_layers=True)
  assert model2.mlm_head == model.mlm_head
  assert leaves_equal(params, params2)


@pytest.mark.parametrize("preset", ["bert-tiny", "distilbert-base"])
def test_export_of_fresh_model_and_heads(preset, tmp_path):
  """A freshly initialised jaxbert model (no MLM head too) exports and round-trips."""
  cfg = jaxbert.get_config(preset, vocab_size=64, hidden_size=32, num_heads=2,
                           intermediate_size=48, num_layers=2, max_position_embeddings=16)
  for mlm_head in (True, False):
    if not mlm_head:                            # BertModel: pooler, no NSP head
      cfg = cfg.replace(pair_head=None)
    model = jaxbert.PretrainingModel(cfg, mlm_head=mlm_head)
    params = init(model)
    jaxbert.save_pretrained(str(tmp_path / str(mlm_head)), model, params)
    model2, params2 = jaxbert.from_pretrained(str(tmp_path / str(mlm_head)))
    assert model2.mlm_head == mlm_head and model2.config.pooler == cfg.pooler
    assert leaves_equal(params, params2)


def test_shared_layers_without_factorisation_export_identity_projection(tmp_path, hf_tools):
  """G < N with E = D has no ALBERT equivalent but an identity E -> D projection."""
  cfg = jaxbert.EncoderConfig(vocab_size=64, hidden_size=32, num_layers=4, num_heads=4,
                              intermediate_size=40, num_groups=2, max_position_embeddings=16,
                              pair_head="sop")
  model = jaxbert.PretrainingModel(cfg)
  params = init(model)
  jaxbert.save_pretrained(str(tmp_path), model, params)
  loaded = transformers.AlbertForPreTraining.from_pretrained(str(tmp_path)).eval()
  ids = np.arange(1, 11)[None] % 64
  with torch.no_grad():
    theirs = loaded(torch.tensor(ids)).prediction_logits.numpy()
  ours = model.apply({"params": params}, jax.numpy.asarray(ids)).mlm_logits
  assert hf_tools.max_diff(ours, theirs) <= TOL


def test_failed_export_keeps_previous_files(tmp_path):
  cfg = jaxbert.get_config("bert-tiny", vocab_size=64, max_position_embeddings=16)
  model = jaxbert.PretrainingModel(cfg)
  params = init(model)
  jaxbert.save_pretrained(str(tmp_path), model, params)
  before = {f: open(tmp_path / f, "rb").read() for f in os.listdir(tmp_path)}
  broken = jax.tree_util.tree_map(lambda x: x, params)
  del broken["pooler"]
  with pytest.raises(ValueError, match="pooler"):
    jaxbert.save_pretrained(str(tmp_path), model, broken)
  after = {f: open(tmp_path / f, "rb").read() for f in os.listdir(tmp_path)}
  assert before == after
