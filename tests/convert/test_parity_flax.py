"""Import parity against transformers' own Flax models (4.57.6, the last with Flax),
loaded from the same PyTorch safetensors directories (from_pt=True)."""

import numpy as np
import pytest

import jaxbert

TOL = 1e-5
FLAX_CLASSES = {"BertForPreTraining": "FlaxBertForPreTraining",
                "AlbertForPreTraining": "FlaxAlbertForPreTraining",
                "DistilBertForMaskedLM": "FlaxDistilBertForMaskedLM"}
NAMES = ["bert-gelu_new-odd", "albert-2groups-inner2", "distilbert-sinusoidal"]
DIFFS = {}


@pytest.mark.parametrize("name", NAMES)
def test_import_matches_hf_flax(name, hf_tools, run_jax, tmp_path):
  transformers = pytest.importorskip("transformers")
  ref = hf_tools.build_reference(name, tmp_path)
  flax_class = getattr(transformers, FLAX_CLASSES[hf_tools.CASES[name][1]])
  hf_model = flax_class.from_pretrained(ref["dir"], from_pt=True)
  inputs = {k: np.asarray(v, np.int32) for k, v in ref["inputs"].items()}
  theirs = hf_model(**inputs, output_hidden_states=True)
  model, params = jaxbert.from_pretrained(ref["dir"])
  ours = run_jax(model, params, ref["inputs"])
  diffs = {"mlm_logits": hf_tools.max_diff(ours["mlm_logits"], theirs.logits if hasattr(
      theirs, "logits") else theirs.prediction_logits)}
  for key, attr in [("sentence_logits", "seq_relationship_logits"),
                    ("sentence_logits", "sop_logits")]:
    if getattr(theirs, attr, None) is not None:
      diffs[key] = hf_tools.max_diff(ours[key], getattr(theirs, attr))
  assert len(theirs.hidden_states) == len(ours["hidden_states"])
  diffs["hidden_states"] = max(hf_tools.max_diff(a, b) for a, b in
                               zip(ours["hidden_states"], theirs.hidden_states))
  DIFFS[name] = diffs
  print(name, diffs)
  assert ("sentence_logits" in diffs) == (not name.startswith("distilbert"))
  assert max(diffs.values()) <= TOL, diffs
