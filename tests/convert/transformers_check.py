"""Checks that transformers loads jaxbert exports as they are, in any transformers version.

    python tests/convert/transformers_check.py EXPORT_DIR [EXPORT_DIR ...]

Each EXPORT_DIR holds what jaxbert.save_pretrained wrote (config.json, model.safetensors,
the tokenizer files) and, beside them, what jaxbert computed (written by the tests):
expected.json (the texts, or text pairs, and the task) and expected_*.npy (jaxbert's
token ids, attention mask, token types and outputs). For each directory:

  - AutoTokenizer gives jaxbert's ids (and token types) on the texts;
  - the task's AutoModelFor... class loads with no missing tensor and its outputs are
    jaxbert's within 1e-5;
  - the task's pipeline runs and returns non-empty strings (fill-mask, text-classification,
    token-classification, and question-answering where transformers still has it).

It imports neither jaxbert nor pytest, so it runs against another transformers than the
test environment's (tests/convert/test_transformers5.py). Prints one JSON line per
directory; exits 1 with the reason (a line FAIL: ...) on the first failure.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import transformers

TOL = 1e-5
# task -> (AutoModel class, pipeline task, [output names of jaxbert = HF attribute names])
TASKS = {
    "masked_lm": ("AutoModelForMaskedLM", "fill-mask", ["logits"]),
    "sequence_classification": ("AutoModelForSequenceClassification", "text-classification",
                                ["logits"]),
    "token_classification": ("AutoModelForTokenClassification", "token-classification",
                             ["logits"]),
    "question_answering": ("AutoModelForQuestionAnswering", "question-answering",
                           ["start_logits", "end_logits"]),
}


class CheckFailed(AssertionError):
  pass


def fail(message: str) -> None:
  raise CheckFailed(message)


def check_pipeline(task: str, directory: str, tokenizer, config) -> str:
  """Runs the task's pipeline once; returns what it produced, as text. (transformers 5
  removed the question-answering pipeline; its model is still checked.)"""
  if task == "question_answering" and not hasattr(transformers, "QuestionAnsweringPipeline"):
    return "no question-answering pipeline in this transformers"
  pipe = transformers.pipeline(TASKS[task][1], model=directory, tokenizer=directory,
                               device="cpu")
  if task == "masked_lm":
    out = pipe(f"the {tokenizer.mask_token} of the union", top_k=3)
    words = [o["token_str"].strip() for o in out]
    if len(words) != 3 or not all(words):
      fail(f"{directory}: fill-mask returned empty tokens: {out}")
    return " ".join(words)
  labels = set(config.id2label.values())
  if task == "sequence_classification":
    out = pipe("the state of the union is strong")
    if not out or out[0]["label"] not in labels:
      fail(f"{directory}: text-classification returned {out}, labels {sorted(labels)}")
    return out[0]["label"]
  if task == "token_classification":
    out = pipe("the state of the union is strong")
    if any(o["entity"] not in labels or not o["word"].strip() for o in out):
      fail(f"{directory}: token-classification returned {out}, labels {sorted(labels)}")
    return " ".join(o["entity"] for o in out)
  context = "the state of the union is strong and the people are free"
  out = pipe(question="what is strong?", context=context)
  if not out["answer"].strip() or out["answer"] not in context:
    fail(f"{directory}: question-answering returned {out}")
  return out["answer"]


def check(directory: str) -> dict:
  """Checks one export; returns {"ids": ..., output name: max abs diff, "pipeline": text}."""
  with open(os.path.join(directory, "expected.json")) as f:
    expected = json.load(f)
  task = expected["task"]
  want = {name: np.load(os.path.join(directory, f"expected_{name}.npy"))
          for name in ["input_ids", "attention_mask"] + TASKS[task][2]}
  tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
  texts = expected["texts"]
  enc = (tokenizer([a for a, _ in texts], [b for _, b in texts], padding=True)
         if expected["pairs"] else tokenizer(texts, padding=True))
  got = {k: np.asarray(v) for k, v in enc.items()}
  for key in ("input_ids", "attention_mask"):
    if got[key].shape != want[key].shape or not np.array_equal(got[key], want[key]):
      fail(f"{directory}: AutoTokenizer {key} {got[key].tolist()} != jaxbert's "
           f"{want[key].tolist()}")
  types_file = os.path.join(directory, "expected_token_type_ids.npy")
  if os.path.exists(types_file):
    if not np.array_equal(got.get("token_type_ids"), np.load(types_file)):
      fail(f"{directory}: AutoTokenizer token_type_ids {got.get('token_type_ids')} != "
           f"jaxbert's")
  elif "token_type_ids" in got:
    fail(f"{directory}: AutoTokenizer returns token_type_ids the model does not take")
  auto = getattr(transformers, TASKS[task][0])
  model, info = auto.from_pretrained(directory, output_loading_info=True)
  if info.get("missing_keys") or info.get("mismatched_keys"):
    fail(f"{directory}: {TASKS[task][0]} loading: {info}")
  with torch.no_grad():
    out = model.eval()(**{k: torch.tensor(v) for k, v in got.items()})
  result = {"dir": os.path.basename(directory), "class": type(model).__name__,
            "transformers": transformers.__version__, "ids": "equal"}
  for name in TASKS[task][2]:
    diff = float(np.max(np.abs(getattr(out, name).numpy() - want[name])))
    if not diff <= TOL:
      fail(f"{directory}: {name} differs from jaxbert's by {diff:.2e} > {TOL}")
    result[name] = diff
  result["pipeline"] = check_pipeline(task, directory, tokenizer, model.config)
  return result


def main(directories: list[str]) -> None:
  if not directories:
    print("usage: transformers_check.py EXPORT_DIR [EXPORT_DIR ...]", file=sys.stderr)
    sys.exit(2)
  for directory in directories:
    try:
      print(json.dumps(check(directory)), flush=True)
    except CheckFailed as e:
      print(f"FAIL: {e}", flush=True)
      sys.exit(1)


if __name__ == "__main__":
  main(sys.argv[1:])
