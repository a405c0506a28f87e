"""Import parity: transformers' PyTorch models (random init, saved with safetensors)
loaded by `jaxbert.from_pretrained` give the same outputs within 1e-5 in float32."""

import numpy as np
import pytest

import jaxbert

TOL = 1e-5
DIFFS = {}  # case -> {output: max abs diff}, printed at the end of the module


def compare(ours, theirs, max_diff):
  assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
  diffs = {}
  for key in ("mlm_logits", "sentence_logits", "last_hidden_state"):
    if key in theirs:
      assert ours[key].shape == theirs[key].shape, key
      diffs[key] = max_diff(ours[key], theirs[key])
  assert len(ours["hidden_states"]) == len(theirs["hidden_states"])
  diffs["hidden_states"] = max(max_diff(a, b) for a, b in
                               zip(ours["hidden_states"], theirs["hidden_states"]))
  return diffs


def test_import_matches_pytorch(reference, hf_tools, run_jax):
  model, params = jaxbert.from_pretrained(reference["dir"])
  ours = run_jax(model, params, reference["inputs"])
  diffs = compare(ours, reference["outputs"], hf_tools.max_diff)
  DIFFS[reference["name"]] = diffs
  print(reference["name"], diffs)
  assert max(diffs.values()) <= TOL, diffs
  assert "mlm_logits" in diffs
  assert ("sentence_logits" in diffs) == (not reference["name"].startswith("distilbert"))


def test_loaded_config_and_dtypes(reference):
  model, params = jaxbert.from_pretrained(reference["dir"], scan_layers=False)
  cfg, hf = model.config, reference["config"]
  assert not cfg.scan_layers
  assert cfg.vocab_size == hf.vocab_size
  assert cfg.max_position_embeddings == hf.max_position_embeddings
  if hf.model_type == "albert":
    assert (cfg.embed_size, cfg.groups, cfg.inner_group_num) == (
        hf.embedding_size, hf.num_hidden_groups, hf.inner_group_num)
  if hf.model_type == "distilbert":
    assert cfg.layer_norm_eps == 1e-12 and cfg.type_vocab_size == 0
    assert cfg.position_embedding == ("sinusoidal" if hf.sinusoidal_pos_embds else "learned")
  import jax
  leaves = jax.tree_util.tree_leaves(params)
  assert all(type(x) is jax.Array or isinstance(x, jax.Array) for x in leaves)
  assert {x.dtype for x in leaves} == {np.dtype("float32")}


@pytest.mark.parametrize("name,head_class,heads", [
    ("bert-relu", "BertForMaskedLM", (True, False, False)),
    ("bert-relu", "BertModel", (False, True, False)),
    ("albert-2groups-inner2", "AlbertForMaskedLM", (True, False, False)),
    ("albert-2groups-inner2", "AlbertModel", (False, True, False)),
    ("distilbert-sinusoidal", "DistilBertModel", (False, False, False)),
])
def test_other_head_classes(name, head_class, heads, tmp_path, hf_tools, run_jax):
  """*ForMaskedLM and *Model checkpoints (with and without the base prefix) load with
  exactly the heads they hold."""
  ref = hf_tools.build_reference(name, tmp_path, head_class, seed=1)
  model, params = jaxbert.from_pretrained(ref["dir"])
  assert (model.mlm_head, model.config.pooler, model.config.pair_head is not None) == heads
  ours = run_jax(model, params, ref["inputs"])
  diffs = compare(ours, ref["outputs"], hf_tools.max_diff)
  assert max(diffs.values()) <= TOL, diffs
  if heads[1]:                                  # BertModel / AlbertModel: pooled output
    import jax.numpy as jnp
    import torch
    with torch.no_grad():
      pooled = ref["model"](**{k: torch.tensor(v) for k, v in ref["inputs"].items()}
                            ).pooler_output.numpy()
    out = model.apply({"params": params},
                      **{k: jnp.asarray(v) for k, v in ref["inputs"].items()})
    assert hf_tools.max_diff(out.pooled_output, pooled) <= TOL


def test_bfloat16_override(hf_tools, tmp_path):
  ref = hf_tools.build_reference("bert-relu", tmp_path)
  model, params = jaxbert.from_pretrained(ref["dir"], dtype="bfloat16", param_dtype="bfloat16")
  import jax
  assert {x.dtype for x in jax.tree_util.tree_leaves(params)} == {np.dtype(jax.numpy.bfloat16)}
  assert model.config.dtype == "bfloat16"


def test_report_diffs(hf_tools):
  """Every reference case was compared and is within TOL (run with -s to see them)."""
  assert set(DIFFS) == set(hf_tools.CASES), sorted(set(hf_tools.CASES) ^ set(DIFFS))
  for name, diffs in sorted(DIFFS.items()):
    print(f"pytorch parity {name}: " + ", ".join(f"{k}={v:.2e}" for k, v in diffs.items()))
    assert set(diffs) >= {"mlm_logits", "last_hidden_state", "hidden_states"}, name
    assert max(diffs.values()) <= TOL, (name, diffs)
