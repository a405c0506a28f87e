"""Reference checkpoints for the conversion tests: tiny random transformers models.

Each case builds a PyTorch model from a local config (never the hub), randomises
every parameter (HF initialises LayerNorms to 1/0 and biases to 0, which hides
mapping bugs), saves it with safetensors and records its outputs on a padded batch.
Built once per test session. Also: jaxbert exports with their tokenizer and expected
outputs (`exports`), and the newest transformers 5.x installed apart (`transformers5`).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

BATCH, LENGTH = 2, 9
# name -> (config class, model class, config kwargs)
CASES = {
    "bert-gelu_new-odd": ("BertConfig", "BertForPreTraining", dict(
        vocab_size=97, hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
        intermediate_size=50, type_vocab_size=3, hidden_act="gelu_new",
        max_position_embeddings=40, layer_norm_eps=1e-7)),
    "bert-relu": ("BertConfig", "BertForPreTraining", dict(
        vocab_size=120, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=48, hidden_act="relu", max_position_embeddings=24)),
    "albert-2groups-inner2": ("AlbertConfig", "AlbertForPreTraining", dict(
        vocab_size=110, embedding_size=16, hidden_size=32, num_hidden_layers=4,
        num_hidden_groups=2, inner_group_num=2, num_attention_heads=4, intermediate_size=40,
        hidden_act="gelu", max_position_embeddings=32)),
    "albert-shared": ("AlbertConfig", "AlbertForPreTraining", dict(
        vocab_size=100, embedding_size=24, hidden_size=48, num_hidden_layers=3,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=32)),
    "distilbert-sinusoidal": ("DistilBertConfig", "DistilBertForMaskedLM", dict(
        vocab_size=101, dim=32, n_layers=2, n_heads=4, hidden_dim=40,
        sinusoidal_pos_embds=True, max_position_embeddings=30)),
    "distilbert-relu": ("DistilBertConfig", "DistilBertForMaskedLM", dict(
        vocab_size=90, dim=36, n_layers=3, n_heads=3, hidden_dim=44, activation="relu",
        max_position_embeddings=20)),
}


def randomise(model, seed: int = 0):
  """Every trainable parameter ~ N(0, 0.1), tied ones staying tied; eval mode.

  Frozen tables (DistilBERT's sinusoidal positions) keep their values.
  """
  gen = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for p in model.parameters():                       # shared parameters appear once
      if p.requires_grad:
        p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
  model.tie_weights()
  return model.eval()


def make_inputs(config, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.RandomState(seed)
  inputs = {"input_ids": rng.randint(1, config.vocab_size, (BATCH, LENGTH)),
            "attention_mask": np.ones((BATCH, LENGTH), np.int64)}
  inputs["attention_mask"][1, 6:] = 0                  # row 1 padded after 6 tokens
  inputs["input_ids"][1, 6:] = 0
  if getattr(config, "type_vocab_size", 0):
    inputs["token_type_ids"] = rng.randint(0, config.type_vocab_size, (BATCH, LENGTH))
  return inputs


def torch_outputs(model, inputs) -> dict[str, np.ndarray]:
  with torch.no_grad():
    out = model(**{k: torch.tensor(v) for k, v in inputs.items()}, output_hidden_states=True)
  result = {"hidden_states": [h.numpy() for h in out.hidden_states]}
  result["last_hidden_state"] = result["hidden_states"][-1]
  for ours, theirs in [("mlm_logits", "prediction_logits"), ("mlm_logits", "logits"),
                       ("sentence_logits", "seq_relationship_logits"),
                       ("sentence_logits", "sop_logits")]:
    if getattr(out, theirs, None) is not None:
      result[ours] = getattr(out, theirs).numpy()
  return result


def build_reference(name: str, directory, head_class: str | None = None, seed: int = 0,
                    **overrides):
  """CASES[name] as `head_class` (default: the case's class), config kwargs `overrides`."""
  config_class, model_class, kwargs = CASES[name]
  config = getattr(transformers, config_class)(**{**kwargs, **overrides})
  model = randomise(getattr(transformers, head_class or model_class)(config), seed)
  model.save_pretrained(str(directory), safe_serialization=True)
  inputs = make_inputs(config, seed)
  return {"name": name, "dir": str(directory), "model": model, "config": config,
          "inputs": inputs, "outputs": torch_outputs(model, inputs)}


@pytest.fixture(scope="session", params=list(CASES))
def reference(request, tmp_path_factory):
  """One saved random PyTorch model per case, with its outputs."""
  return build_reference(request.param, tmp_path_factory.mktemp(request.param))


def max_diff(a, b) -> float:
  return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture(scope="session")
def hf_tools():
  """The helpers above, for test modules (conftest modules are not importable by name)."""
  import types
  return types.SimpleNamespace(CASES=CASES, build_reference=build_reference,
                               make_inputs=make_inputs, torch_outputs=torch_outputs,
                               randomise=randomise, max_diff=max_diff)


def jax_outputs(model, params, inputs):
  """Our model's outputs on the reference inputs, as numpy."""
  import jax
  import jax.numpy as jnp
  kwargs = {k: jnp.asarray(v, jnp.int32) for k, v in inputs.items()}
  out = jax.jit(model.apply)({"params": params}, **kwargs)
  result = {"hidden_states": [np.asarray(h) for h in out.hidden_states],
            "last_hidden_state": np.asarray(out.last_hidden_state)}
  for key in ("mlm_logits", "sentence_logits"):
    if getattr(out, key) is not None:
      result[key] = np.asarray(getattr(out, key))
  return result


@pytest.fixture(scope="session")
def run_jax():
  return jax_outputs


# ----------------------------------------------------------------------------- exports
# jaxbert exports with their tokenizer, and what jaxbert computes on some texts, for
# tests/convert/transformers_check.py (run in-process with the test environment's
# transformers, and in a subprocess with the newest 5.x).

CORPUS = ["The state of the Union is strong, and the people are free.",
          "We hold these truths to be self-evident: that all men are created equal.",
          "Congress shall make no law respecting an establishment of religion.",
          "The quick brown fox jumps over the lazy dog near the river bank.",
          "Résumé of the café: naïve coöperation, 1,024 dollars and 3.5 percent!"]
TEXTS = ["the state of the union is strong", "Résumé of the CAFÉ, 1,024 dollars!",
         "zebras quixotically jump"]           # unseen words: pieces and [UNK]
PAIRS = [["the people are free", "congress shall make no law"],
         ["We hold these truths.", "The quick brown fox?"]]
OUTPUTS = {"masked_lm": {"logits": "mlm_logits"},   # task -> {HF output: jaxbert output}
           "sequence_classification": {"logits": "logits"},
           "token_classification": {"logits": "logits"},
           "question_answering": {"start_logits": "start_logits", "end_logits": "end_logits"}}


def tiny_config(family: str, vocab_size: int):
  import jaxbert
  preset = {"bert": "bert-tiny", "albert": "albert-base", "distilbert": "distilbert-base"}
  extra = {"embedding_size": 16, "num_groups": 1} if family == "albert" else {}
  return jaxbert.get_config(preset[family], vocab_size=vocab_size, hidden_size=32, num_heads=2,
                            intermediate_size=48, num_layers=2, max_position_embeddings=40,
                            **extra)


def random_params(model, seed: int):
  """Parameters of `model` ~ N(0, 0.1), numpy-drawn (no compilation): no zero bias or
  unit scale left to hide a mapping mistake."""
  import jax
  from jaxbert.convert.hf import param_shapes
  rng = np.random.RandomState(seed)
  return jax.tree.map(lambda s: (0.1 * rng.standard_normal(s.shape)).astype(s.dtype),
                      param_shapes(model))


def write_expected(directory: str, model, params, tokenizer, task: str, pairs: bool) -> None:
  """expected.json and expected_*.npy: jaxbert's ids and outputs on TEXTS or PAIRS."""
  import json
  import os
  import jax
  import jax.numpy as jnp
  texts = PAIRS if pairs else TEXTS
  rows, types = [], []
  for text in texts:
    parts = [tokenizer.encode(t) for t in (text if pairs else [text])]
    ids = [tokenizer.cls_id] + parts[0] + [tokenizer.sep_id]
    row_types = [0] * len(ids)
    if pairs:
      ids += parts[1] + [tokenizer.sep_id]
      row_types += [1] * (len(parts[1]) + 1)
    rows.append(ids)
    types.append(row_types)
  length = max(map(len, rows))
  arrays = {"input_ids": np.full((len(rows), length), tokenizer.pad_id, np.int64),
            "attention_mask": np.zeros((len(rows), length), np.int64),
            "token_type_ids": np.zeros((len(rows), length), np.int64)}
  for i, (ids, row_types) in enumerate(zip(rows, types)):
    arrays["input_ids"][i, :len(ids)] = ids
    arrays["attention_mask"][i, :len(ids)] = 1
    arrays["token_type_ids"][i, :len(ids)] = row_types
  if not model.config.type_vocab_size:
    del arrays["token_type_ids"]
  out = jax.jit(model.apply)({"params": params},
                             **{k: jnp.asarray(v, jnp.int32) for k, v in arrays.items()})
  for hf_name, ours in OUTPUTS[task].items():
    arrays[hf_name] = np.asarray(getattr(out, ours))
  for name, value in arrays.items():
    np.save(os.path.join(directory, f"expected_{name}.npy"), value)
  with open(os.path.join(directory, "expected.json"), "w") as f:
    json.dump({"task": task, "pairs": pairs, "texts": texts}, f)


@pytest.fixture(scope="session")
def tokenizer():
  from jaxbert.data.tokenizer import train_tokenizer
  return train_tokenizer(CORPUS * 4, vocab_size=160)


@pytest.fixture(scope="session")
def unigram_tokenizer():
  """An ALBERT-style Unigram vocabulary (jaxbert/data/unigram.py)."""
  from jaxbert.data.tokenizer import train_unigram_tokenizer
  return train_unigram_tokenizer(CORPUS * 4, vocab_size=160)


@pytest.fixture(scope="session")
def exports(tmp_path_factory, tokenizer, unigram_tokenizer) -> dict[str, str]:
  """name -> directory of a jaxbert export (tokenizer included) with its expected_* files:
  the pretraining models of the three families, a model of each task, and ALBERT with
  its own kind of vocabulary (Unigram)."""
  import jaxbert
  cases = [("bert", "masked_lm", True, {}), ("albert", "masked_lm", False, {}),
           ("distilbert", "masked_lm", False, {}),
           ("bert", "sequence_classification", True, {"labels": ("neg", "neutral", "pos"),
                                                      "num_labels": 3}),
           ("albert", "token_classification", False, {"num_labels": 4}),
           ("distilbert", "question_answering", False, {}),
           ("albert", "masked_lm", True, {"vocabulary": "unigram"})]
  dirs = {}
  for seed, (family, task, pairs, fields) in enumerate(cases):
    tok = unigram_tokenizer if fields.pop("vocabulary", "") == "unigram" else tokenizer
    cfg = tiny_config(family, tok.vocab_size)
    model = (jaxbert.PretrainingModel(cfg) if task == "masked_lm" else
             jaxbert.models.tasks.TASK_MODELS[task](cfg, **fields))
    params = random_params(model, seed)
    name = f"{family}-{task}" + ("-unigram" if tok is unigram_tokenizer else "")
    directory = str(tmp_path_factory.mktemp(name))
    jaxbert.save_pretrained(directory, model, params, tokenizer=tok)
    write_expected(directory, model, params, tok, task, pairs)
    dirs[name] = directory
  return dirs


# ----------------------------------------------------------------------------- transformers 5.x
# Users run the newest transformers 5.x; the test environment pins 4.57.6 (the last with
# Flax models). The newest 5.x goes into a directory of its own (pip --target, with its
# dependencies), put first on PYTHONPATH of a subprocess that reuses this environment's
# torch. Installed once a week at most, under the pytest cache directory.

TRANSFORMERS5 = os.environ.get("JAXBERT_TRANSFORMERS5", "transformers>=5,<6")
REINSTALL_AFTER_S = 7 * 24 * 3600


def install_transformers5(root) -> dict:
  """{"path", "version", "install_s"} of TRANSFORMERS5 installed under `root`; skips the
  test (with pip's last line) when it cannot be installed, e.g. no package index."""
  import json
  import shutil
  import subprocess
  import sys
  import time
  stamp, site = root / "installed.json", root / "site"
  if stamp.exists():
    info = json.loads(stamp.read_text())
    if (info.get("spec") == TRANSFORMERS5 and site.exists()
        and time.time() - info["installed_at"] < REINSTALL_AFTER_S):
      return dict(info, path=str(site), cached=True)
  tmp = root / f"site.tmp{os.getpid()}"
  shutil.rmtree(tmp, ignore_errors=True)
  t0 = time.time()
  proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-input",
                         "--disable-pip-version-check", "--target", str(tmp), TRANSFORMERS5],
                        capture_output=True, text=True, timeout=900)
  seconds = time.time() - t0
  if proc.returncode:
    shutil.rmtree(tmp, ignore_errors=True)
    lines = [l for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
    pytest.skip(f"cannot install {TRANSFORMERS5!r} with pip (no package index?): "
                f"{lines[-1] if lines else 'exit status ' + str(proc.returncode)}")
  versions = [p.name[len("transformers-"):-len(".dist-info")]
              for p in tmp.glob("transformers-*.dist-info")]
  shutil.rmtree(site, ignore_errors=True)
  os.replace(tmp, site)
  info = {"spec": TRANSFORMERS5, "version": versions[0], "install_s": round(seconds, 1),
          "installed_at": time.time()}
  stamp.write_text(json.dumps(info))
  return dict(info, path=str(site), cached=False)


@pytest.fixture(scope="session")
def transformers5(request, tmp_path_factory) -> dict:
  cache = getattr(request.config, "cache", None)
  root = cache.mkdir("transformers5") if cache else tmp_path_factory.mktemp("transformers5")
  return install_transformers5(root)
