"""Result rows, ratios, and the files: JSON, a markdown table and a PNG plot.

Row fields (JSON and table):
  bench, model, seq, batch, impl, dtype
  median_s, min_s, max_s, reps    step time after warm-up (interleaved, see timing.py)
  tokens_per_s                    batch * seq / median_s (every token counted: no padding here)
  compile_s                       JAX: lower + compile; torch.compile: first call; eager: None
  memory_bytes                    JAX: compiled memory analysis (args + outputs + temps -
                                  aliased); torch: None (not measured)
  flops                           analytic FLOPs per step (flops.py)
  achieved_flops_per_s            flops / median_s
  mfu                             achieved / the matmul peak measured in the same run
  vs                              on jaxbert rows: {impl: jaxbert tokens/s / impl tokens/s}
"""

from __future__ import annotations

import json
import os

from benchmarks import flops

FLOP_FORMULA = flops.__doc__.strip()


def row(bench, model, seq, batch, dtype, runner, timing, peak_flops_per_s) -> dict:
  achieved = runner.flops / timing.median_s if runner.flops else None
  return {
      "bench": bench, "model": model, "seq": seq, "batch": batch, "impl": runner.impl,
      "dtype": dtype, "median_s": timing.median_s, "min_s": timing.min_s,
      "max_s": timing.max_s, "reps": timing.reps, "first_call_s": timing.warmup_s,
      "tokens_per_s": batch * seq / timing.median_s,
      "compile_s": runner.compile_s, "memory_bytes": runner.memory_bytes,
      "flops": runner.flops, "achieved_flops_per_s": achieved,
      "mfu": achieved / peak_flops_per_s if achieved else None, "note": runner.note,
  }


def add_ratios(rows: list[dict]) -> None:
  """jaxbert tokens/s over each other implementation's, on the jaxbert row; the
  same-work row's (jaxbert-same-work) over each Hugging Face implementation's."""
  for ours in ("jaxbert", "jaxbert-same-work"):
    for r in (r for r in rows if r["impl"] == ours):
      r["vs"] = {o["impl"]: r["tokens_per_s"] / o["tokens_per_s"]
                 for o in rows if o["impl"] != ours and not (
                     ours != "jaxbert" and o["impl"].startswith("jaxbert"))}


def _fmt_time(s):
  return f"{s * 1e3:.1f}" if s < 10 else f"{s * 1e3:.0f}"


def _fmt_mem(b):
  return "—" if b is None else f"{b / 2**20:.0f}"


def one_line(r: dict) -> str:
  vs = " ".join(f"{k}:{v:.2f}x" for k, v in r.get("vs", {}).items())
  comp = "—" if r["compile_s"] is None else f"{r['compile_s']:.1f}s"
  mfu = "—" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
  return (f"{r['bench']:9s} {r['model']:15s} L={r['seq']:<4d} B={r['batch']:<3d} "
          f"{r['impl']:16s} {_fmt_time(r['median_s'])} ms ({_fmt_time(r['min_s'])}-"
          f"{_fmt_time(r['max_s'])}) {r['tokens_per_s']:.0f} tok/s compile {comp} "
          f"MFU {mfu} {vs}")


def markdown(doc: dict) -> str:
  env = doc["environment"]
  v = env["versions"]
  lines = [
      f"# jaxbert benchmarks: `{doc['suite']}` suite",
      "",
      f"- date {env['date']}, commit `{env['commit']}`",
      f"- device: {env['platform']} / {env['device']} ({env['device_count']}), CPU "
      f"{env['cpu_model']} x {env['cpu_count']}; torch threads {env.get('torch_threads')}; "
      f"{env.get('xla_threads', '')}",
      f"- versions: " + ", ".join(f"{k} {v[k]}" for k in v if v[k]),
      f"- load average at start {env['load_average']}, at end {env.get('load_average_end')}; "
      f"wall {env.get('wall_s')} s",
      f"- dtype {doc['dtype']}; {doc['reps']} timed repetitions per implementation, "
      f"interleaved, after one warm-up call",
      f"- matmul peak {doc['peak']['flops_per_s'] / 1e9:.1f} GFLOP/s: the best "
      f"{doc['peak']['runs'][0].get('n')}^3 {doc['peak']['runs'][0].get('dtype')} matmul of this "
      f"run (measured at start and end; MFU is against it): "
      + ", ".join(f"{r['impl']} {r['flops_per_s'] / 1e9:.1f}" for r in doc["peak"]["runs"]),
      "",
      "| bench | model | L | B | impl | median ms (min–max) | tokens/s | compile s | mem MiB "
      "| GFLOP/step | MFU | jaxbert ÷ this |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ]
  by_case = {}
  for r in doc["results"]:
    by_case.setdefault((r["bench"], r["model"], r["seq"], r["batch"]), []).append(r)
  lines[-2:-2] = ratio_table(by_case) + ["", "All rows:", ""]
  for case, rows in by_case.items():
    ours = next((r for r in rows if r["impl"] == "jaxbert"), None)
    for r in rows:
      ratio = ("—" if ours is None or r is ours
               else f"**{ours['tokens_per_s'] / r['tokens_per_s']:.2f}×**")
      comp = "—" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
      mfu = "—" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
      gf = "—" if r["flops"] is None else f"{r['flops'] / 1e9:.1f}"
      lines.append(
          f"| {r['bench']} | {r['model']} | {r['seq']} | {r['batch']} | {r['impl']} | "
          f"{_fmt_time(r['median_s'])} ({_fmt_time(r['min_s'])}–{_fmt_time(r['max_s'])}) | "
          f"{r['tokens_per_s']:.0f} | {comp} | {_fmt_mem(r['memory_bytes'])} | {gf} | {mfu} | "
          f"{ratio} |")
  if doc["notes"]:
    lines += ["", "Notes:", ""] + [f"- {n}" for n in doc["notes"]]
  lines += ["", "FLOP formula (benchmarks/flops.py):", "", "```", doc["flop_formula"], "```", ""]
  return "\n".join(lines)


def ratio_table(by_case: dict) -> list[str]:
  """jaxbert's tokens/s and its ratio to each alternative, one line per case."""
  others = sorted({r["impl"] for rows in by_case.values() for r in rows} - {"jaxbert"})
  lines = ["Ratios (jaxbert tokens/s ÷ the other's, > 1: jaxbert faster):", "",
           "| bench | model | L | B | jaxbert tokens/s | " + " | ".join(f"÷ {o}" for o in others)
           + " |", "|---|---|---|---|---|" + "---|" * len(others)]
  for (bench, model, seq, batch), rows in by_case.items():
    ours = next((r for r in rows if r["impl"] == "jaxbert"), None)
    if ours is None:
      continue
    cells = [f"**{ours['vs'][o]:.2f}×**" if o in ours.get("vs", {}) else "—" for o in others]
    lines.append(f"| {bench} | {model} | {seq} | {batch} | {ours['tokens_per_s']:.0f} | "
                 + " | ".join(cells) + " |")
  return lines + [""]


def plot(doc: dict, path: str) -> bool:
  """Tokens/s by model and sequence length, one panel per benchmark (log scale)."""
  try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
  except ImportError:
    return False
  benches = [b for b in ("train", "inference", "distill", "layer", "attention")
             if any(r["bench"] == b for r in doc["results"])]
  if not benches:
    return False
  fig, axes = plt.subplots(1, len(benches), figsize=(5.5 * len(benches), 4.5), squeeze=False)
  impls = sorted({r["impl"] for r in doc["results"]}, key=lambda i: (i != "jaxbert", i))
  for ax, bench in zip(axes[0], benches):
    rows = [r for r in doc["results"] if r["bench"] == bench]
    cases = sorted({(r["model"], r["seq"], r["batch"]) for r in rows},
                   key=lambda c: (c[1], c[0]))
    width = 0.8 / len(impls)
    for i, impl in enumerate(impls):
      ys = []
      for c in cases:
        hit = [r for r in rows if (r["model"], r["seq"], r["batch"]) == c and r["impl"] == impl]
        ys.append(hit[0]["tokens_per_s"] if hit else 0)
      ax.bar([j + i * width for j in range(len(cases))], ys, width, label=impl)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cases))])
    ax.set_xticklabels([f"{m}\nL={s} B={b}" for m, s, b in cases], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("tokens/s")
    ax.set_title(bench)
    ax.legend(fontsize=7)
  env = doc["environment"]
  fig.suptitle(f"{doc['suite']} suite, {env['device']} ({env['cpu_model']}), {doc['dtype']}, "
               f"commit {env['commit']}", fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return True


def write(doc: dict, out_dir: str, stem: str, plot_png: bool = True, **kw) -> list[str]:
  plot_png = kw.get("plot", plot_png)
  os.makedirs(out_dir, exist_ok=True)
  paths = [os.path.join(out_dir, f"{stem}.json"), os.path.join(out_dir, f"{stem}.md")]
  with open(paths[0], "w") as f:
    json.dump(doc, f, indent=1)
  with open(paths[1], "w") as f:
    f.write(markdown(doc))
  png = os.path.join(out_dir, f"{stem}.png")
  if plot_png and plot(doc, png):
    paths.append(png)
  return paths
