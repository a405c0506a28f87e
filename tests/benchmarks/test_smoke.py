"""Smoke test of the benchmark harness: one tiny end-to-end run, result fields checked."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

ROW_FIELDS = {"bench", "model", "seq", "batch", "impl", "dtype", "median_s", "min_s", "max_s",
              "reps", "tokens_per_s", "compile_s", "memory_bytes", "flops",
              "achieved_flops_per_s", "mfu"}


def test_harness_end_to_end(tmp_path):
  from benchmarks import run
  run.run(["--quick", "--models", "bert-tiny", "--seq", "16", "--batch", "2",
           "--only", "inference", "--impls", "jaxbert,hf-torch",
           "--name", "smoke", "--out", str(tmp_path), "--no-plot"])
  doc = json.loads((tmp_path / "smoke.json").read_text())
  env = doc["environment"]
  for key in ("device", "cpu_model", "commit", "date", "load_average", "versions"):
    assert key in env
  assert {"jax", "flax", "torch", "transformers"} <= set(env["versions"])
  assert doc["peak"]["flops_per_s"] > 0 and "2 * T" in doc["flop_formula"]
  rows = doc["results"]
  assert {(r["bench"], r["impl"]) for r in rows} == {
      ("inference", i) for i in ("jaxbert", "hf-torch")}
  for r in rows:
    assert ROW_FIELDS <= set(r), ROW_FIELDS - set(r)
    assert r["median_s"] > 0 and r["tokens_per_s"] > 0 and r["flops"] > 0
  ours = [r for r in rows if r["impl"] == "jaxbert"]
  assert all(r["compile_s"] > 0 and r["memory_bytes"] > 0 and "hf-torch" in r["vs"]
             for r in ours)
  assert "| jaxbert ÷ this |" in (tmp_path / "smoke.md").read_text()
