"""`python -m benchmarks.pod_record`: the recipes planned on TPU pods, recorded.

Runs benchmarks/pod_plan.py for each row of PLANS and writes
benchmarks/results/pod_plan.json and .md after every row (device, versions, commit
with them). One compile per row; a row's compile time is in the table.

  python -m benchmarks.pod_record [--only 0,3] [--name pod_plan]
"""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402

from benchmarks import environment, pod_plan  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
R = "train/configs/"
PLANS = [   # (why, pod_plan arguments)
    ("bert-base phase 1, recipe mesh", f"--config {R}bert_base.py --topology v5e:8x8"),
    ("bert-base phase 2, recipe mesh", f"--config {R}bert_base.py:2 --topology v6e:8x8"),
    ("bert-large phase 2, recipe mesh", f"--config {R}bert_large.py:2 --topology v4:4x4x4"),
    ("albert-xxlarge, recipe mesh", f"--config {R}albert_xxlarge.py --topology v5p:4x4x8"),
    # Attention dropout 0 (MosaicBERT and later recipes) drops the [B, H, L, L] random
    # bits, and compiles in minutes instead of a quarter hour here.
    ("bert-large phase 2, attention dropout 0", f"--config {R}bert_large.py:2 "
     "--topology v4:4x4x4 --attention-dropout 0"),
    ("bert-large phase 2, xla attention, dropout 0", f"--config {R}bert_large.py:2 "
     "--topology v4:4x4x4 --attention xla --attention-dropout 0"),
    ("bert-large phase 2, dropout 0, remat none", f"--config {R}bert_large.py:2 "
     "--topology v4:4x4x4 --attention-dropout 0 --remat none"),
    ("bert-large phase 2, dropout 0, remat full", f"--config {R}bert_large.py:2 "
     "--topology v4:4x4x4 --attention-dropout 0 --remat full"),
    ("albert-xxlarge on v4, remat dots", f"--config {R}albert_xxlarge.py --topology v4:4x4x8"),
    ("albert-xxlarge on v4, remat full", f"--config {R}albert_xxlarge.py --topology v4:4x4x8 "
                                         "--remat full"),
    # 256 chips, and the largest batch that fits (the search: benchmarks/pod_plan.py).
    ("albert-xxlarge on v5e-256, remat full", f"--config {R}albert_xxlarge.py "
     "--topology v5e:16x16 --remat full --max-batch"),
    ("albert-xxlarge on v6e-256, remat dots", f"--config {R}albert_xxlarge.py "
     "--topology v6e:16x16 --max-batch"),
    ("bert-large phase 2, dropout 0, remat none, largest batch", f"--config {R}bert_large.py:2 "
     "--topology v4:4x4x4 --attention-dropout 0 --remat none --max-batch"),
    ("bert-base phase 1, recipe mesh, largest batch", f"--config {R}bert_base.py "
     "--topology v5e:8x8 --max-batch"),
]


def largest(r: dict) -> str:
  """The batch search's bracket and compiles: "≥ 1425, < 1447 (4)"."""
  if "max_rows_per_chip" not in r:
    return "—"
  rows, miss, spent = r["max_rows_per_chip"], r["min_rows_not_fitting"], r["search_compiles"]
  return f"≥ {rows}{f', < {miss}' if miss else ''} ({spent})"


def table(records: list[dict]) -> str:
  gib = lambda b: f"{b / 2 ** 30:.2f}"  # noqa: E731
  head = ("| plan | topology (chips) | mesh d×f×t | batch × L (rows/chip) | remat | "
          "attention (dropout) | args GiB | temps GiB | total GiB (% HBM) | collectives | "
          "step ms / tokens/s/chip at 40% MFU | largest rows/chip (compiles) | compile s |\n|"
          + "---|" * 13)
  rows = [head]
  for r in records:
    m, mesh = r["memory"], r["mesh"]
    coll = ", ".join(f"{k} {v}" for k, v in sorted(r["collectives"].items())) or "none"
    mem = (f"{gib(m['arguments'])} | {gib(m['temporaries'])} | **{gib(m['total'])}** "
           f"({m['total'] / (r['hbm_gib'] * 2 ** 30):.0%})") if m else f"— | — | {r['error']}"
    rows.append(
        f"| {r['why']} | {r['topology']} ({r['chips']}) | {mesh['data']}×{mesh['fsdp']}×"
        f"{mesh['tensor']} | {r['batch']} × {r['length']} ({r['rows_per_chip']}) | "
        f"{r['remat']} | {r['attention']} ({r['attention_dropout']:g}) | {mem} | {coll} | "
        f"{r['step_s'] * 1e3:.1f} / {r['tokens_per_s_per_chip']:,.0f} | {largest(r)} | "
        f"{r['compile_s']:.0f} |")
  return "\n".join(rows)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--only", help="comma-separated row indices of PLANS")
  p.add_argument("--name", default="pod_plan")
  args = p.parse_args(argv)
  picks = [int(i) for i in args.only.split(",")] if args.only else range(len(PLANS))
  env, records = environment.describe(), []
  env["versions"]["libtpu"] = importlib.metadata.version("libtpu")
  for i in picks:
    why, cli = PLANS[i]
    print(f"== {why}: python -m benchmarks.pod_plan {cli}", flush=True)
    record = pod_plan.plan(pod_plan.parse(cli.split()))
    record["why"], record["command"] = why, f"python -m benchmarks.pod_plan {cli}"
    record["hbm_gib"] = pod_plan.pc.CHIPS[record["topology"].split(":")[0]].hbm_gib
    records.append(record)
    with open(os.path.join(RESULTS, args.name + ".json"), "w") as f:
      json.dump({"environment": env, "plans": records}, f, indent=1)
    with open(os.path.join(RESULTS, args.name + ".md"), "w") as f:
      f.write(f"# TPU pod plans (benchmarks/pod_record.py)\n\n{table(records)}\n\n"
              f"Environment: `{json.dumps(env)}`\n")


if __name__ == "__main__":
  main()
