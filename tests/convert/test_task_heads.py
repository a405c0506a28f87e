"""Task heads against transformers' PyTorch classes, both ways: *ForSequenceClassification
(classes, and regression with one label), *ForTokenClassification and
*ForQuestionAnswering of BERT, ALBERT and DistilBERT (two configs each, random weights)
load into jaxbert's task models with logits within 1e-5, and jaxbert's exports load back
into the same classes with the same logits, labels and no missing or unexpected tensor."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbert
from jaxbert.models import heads_of

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TOL = 1e-5
FAMILY = {"bert": "Bert", "albert": "Albert", "distilbert": "DistilBert"}
# task -> (HF class suffix, jaxbert class, num_labels of config 1 / config 2, outputs)
TASKS = {
    "sequence_classification": ("ForSequenceClassification", jaxbert.SequenceClassifier,
                                (3, 1), ("logits",)),
    "token_classification": ("ForTokenClassification", jaxbert.TokenClassifier, (5, 2),
                             ("logits",)),
    "question_answering": ("ForQuestionAnswering", jaxbert.QuestionAnswerer, (2, 2),
                           ("start_logits", "end_logits")),
}
# Two configs per family: conftest's CASES cut to one layer (ALBERT: one group of two
# layers, as HF's head mask wants layers per group >= inner_group_num). The encoders'
# parity is tests/convert/test_parity_torch.py's; here the heads and their names are.
CASES = [("bert-gelu_new-odd", 0), ("bert-relu", 1), ("albert-2groups-inner2", 0),
         ("albert-shared", 1), ("distilbert-sinusoidal", 0), ("distilbert-relu", 1)]
SHALLOW = {"bert": {"num_hidden_layers": 1}, "distilbert": {"n_layers": 1},
           "albert": {"num_hidden_layers": 2, "num_hidden_groups": 1}}
DIFFS = {}  # (case, task) -> {"import": max abs diff, "export": max abs diff}


def torch_task_outputs(model, inputs, names):
  with torch.no_grad():
    out = model(**{k: torch.tensor(v) for k, v in inputs.items()})
  return {n: getattr(out, n).numpy() for n in names}


def max_diff(ours, theirs):
  return max(float(np.max(np.abs(np.asarray(ours[n]) - theirs[n]))) for n in theirs)


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("case,which", CASES)
def test_task_head_parity(case, which, task, hf_tools, tmp_path):
  suffix, jax_class, num_labels, names = TASKS[task]
  family = case.split("-")[0]
  n = num_labels[which]
  labels = {i: f"tag{i}" for i in range(n)} if which == 0 else None   # named / default
  ref = hf_tools.build_reference(case, tmp_path / "ref", FAMILY[family] + suffix, seed=2,
                                 num_labels=n, **({"id2label": labels} if labels else {}),
                                 **SHALLOW[family])
  theirs = torch_task_outputs(ref["model"], ref["inputs"], names)

  model, params = jaxbert.from_pretrained(ref["dir"])
  assert type(model) is jax_class and model.num_labels == n
  assert model.labels == (tuple(labels.values()) if labels else ())
  assert heads_of(model) == (("pooler",) if task == "sequence_classification"
                             and family != "distilbert" else ()) + (task,)
  apply = jax.jit(model.apply)
  out = apply({"params": params}, **{k: jnp.asarray(v) for k, v in ref["inputs"].items()})
  ours = {k: getattr(out, k) for k in names}
  assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
  diffs = {"import": max_diff(ours, theirs)}

  out_dir = str(tmp_path / "export")
  jaxbert.save_pretrained(out_dir, model, params)
  config = json.load(open(os.path.join(out_dir, "config.json")))
  assert config["architectures"] == [FAMILY[family] + suffix]
  assert config["id2label"] == {str(i): l for i, l in ref["config"].id2label.items()}
  assert config.get("problem_type") == ("regression" if n == 1 and task.startswith("seq")
                                        else None)
  loaded, info = getattr(transformers, FAMILY[family] + suffix).from_pretrained(
      out_dir, output_loading_info=True)
  assert not any(info.values()), info
  diffs["export"] = max_diff(ours, torch_task_outputs(loaded.eval(), ref["inputs"], names))
  DIFFS[(case, task)] = diffs
  assert max(diffs.values()) <= TOL, diffs

  model2, params2 = jaxbert.from_pretrained(out_dir)
  assert model2 == model.clone(config=model.config.replace(scan_layers=True))
  assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params),
                                                  jax.tree.leaves(params2)))


def test_report_task_diffs():
  """Every class was compared (run with -s to see the figures)."""
  for task, (suffix, *_rest) in TASKS.items():
    for family in FAMILY:
      got = {k: v for k, v in DIFFS.items() if k[1] == task and k[0].startswith(family)}
      assert len(got) == 2, (family, task, sorted(DIFFS))
      worst = {side: max(d[side] for d in got.values()) for side in ("import", "export")}
      print(f"{FAMILY[family]}{suffix}: import {worst['import']:.1e}, "
            f"export {worst['export']:.1e}")
      assert max(worst.values()) <= TOL


def test_heads_without_an_hf_class_refused(tmp_path):
  cfg = jaxbert.get_config("bert-tiny", vocab_size=64, max_position_embeddings=16,
                           pooler=False, pair_head=None)
  model = jaxbert.SequenceClassifier(cfg, num_labels=2)      # BERT's needs the pooler
  params = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype),
                        jaxbert.convert.param_shapes(model))
  with pytest.raises(ValueError, match="no Hugging Face bert class has exactly the heads"):
    jaxbert.save_pretrained(str(tmp_path), model, params)
  assert not os.listdir(tmp_path)
  with pytest.raises(ValueError, match="2 label names for num_labels=3"):
    jaxbert.init_params(jaxbert.TokenClassifier(cfg, num_labels=3, labels=("a", "b")))
