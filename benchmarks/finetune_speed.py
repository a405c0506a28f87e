"""Fine-tuning speed: jaxbert's packed batches against Hugging Face PyTorch with dynamic
padding, on the same model, data, batch and learning rate.

    python -m data.vader --out=data_cache/labelled          # the data, once
    python -m benchmarks.finetune_speed                     # bert-mini: whole epochs + dev
                                                            # accuracy; bert-base: throughput
    python -m benchmarks.finetune_speed --models bert-mini --epochs 3

What runs, for each preset:
  - one random initialisation (jaxbert.init_params of the preset, with a WordPiece
    vocabulary trained on the training texts), exported with jaxbert.save_pretrained:
    both sides start from the same encoder and pooler; each draws its own fresh head;
  - jaxbert: `train.finetune.run`, the production command's recipe
    (train/configs/finetune_default.py: packed rows of L = 128 tokens, AdamW, 10% warmup
    then linear decay, clipping at 1.0, dropout 0.1), with `rows` rows per step chosen so
    that an epoch has as many steps as Hugging Face's (the same examples per update);
  - Hugging Face: `...ForSequenceClassification.from_pretrained` on the same export, fed the
    same token ids (jaxbert's tokenizer, [CLS] text [SEP], truncated at 128) in shuffled
    batches of `batch` examples padded by `DataCollatorWithPadding`, torch.optim.AdamW
    with the same betas, eps, weight decay (off biases and LayerNorm) and schedule
    (`get_linear_schedule_with_warmup`), `clip_grad_norm_(1.0)`, dropout 0.1.
Examples/s count training examples over the time of the training steps after the first
(compile, for jaxbert) with evaluations and checkpoints left out, as train/loop.py
measures; wall is the whole run. Dev accuracy is measured at the end of each run on all
1,887 dev sentences (bert-mini), its noise being the binomial standard error. At
bert-base a run is --base-steps steps (a whole epoch takes too long on a CPU), so only
examples/s is compared there. For each preset, runs alternate jaxbert, HF, jaxbert, HF
(--rounds) and the medians are reported (dev accuracy is the same in every round: both
sides are deterministic). Results: benchmarks/results/finetune_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time

import numpy as np

from benchmarks import environment

DATA = "data_cache/labelled/vader-binary"


def make_init(preset: str, tokenizer, directory: str) -> str:
  """A random-init jaxbert preset (pretraining heads) exported as a Hugging Face dir."""
  import jaxbert
  cfg = jaxbert.get_config(preset, vocab_size=tokenizer.vocab_size)
  model = jaxbert.PretrainingModel(cfg)
  jaxbert.save_pretrained(directory, model, jaxbert.init_params(model, seed=0),
                          tokenizer=tokenizer)
  return directory


def run_jaxbert(init: str, train_csv: str, dev_csv: str, *, rows: int, lr: float,
                epochs: int, steps: int, workdir: str) -> dict:
  """train.finetune.run with finetune_default.py's recipe; examples/s from its
  steady-state tokens/s (rows of L tokens) and the epoch's examples per row."""
  from train import finetune
  from train.configs.finetune_default import finetune_config
  c = finetune_config()
  c.init, c.workdir, c.batch_size, c.learning_rate = init, workdir, rows, lr
  c.num_epochs, c.num_train_steps = epochs, steps
  c.data.train, c.data.dev = train_csv, dev_csv
  c.export_hf, c.progress_bar, c.patience = False, False, 0
  t0 = time.perf_counter()
  s = finetune.run(c, workdir)
  wall = time.perf_counter() - t0
  per_row = s["examples_per_row"]
  best = s["best"]["metrics"] if s["best"] else s["eval"]
  return {"impl": "jaxbert", "steps": s["step"], "rows_per_step": rows,
          "examples_per_step": rows * per_row, "examples_per_row": per_row,
          "examples_per_s": s["tokens_per_s"] / c.data.max_seq_length * per_row,
          "wall_s": wall, "dev_accuracy": best.get("accuracy")}


def run_hf(init: str, enc_train, enc_dev, *, batch: int, lr: float, steps: int,
           seed: int = 0) -> dict:
  """The Hugging Face loop a user writes: collator-padded batches, AdamW, linear warmup."""
  import torch
  import transformers
  from train.configs.base import base_config
  opt = base_config().optimizer
  torch.manual_seed(seed)
  torch.set_num_threads(os.cpu_count() or 1)
  tok = transformers.AutoTokenizer.from_pretrained(init)
  model = transformers.AutoModelForSequenceClassification.from_pretrained(init, num_labels=2)
  collate = transformers.DataCollatorWithPadding(tok)
  feats = lambda enc: [{"input_ids": enc.tokens[a:b].tolist(),
                        "token_type_ids": [0] * int(b - a), "attention_mask": [1] * int(b - a),
                        "labels": int(enc.labels[i])}
                       for i, (a, b) in enumerate(zip(enc.offsets[:-1], enc.offsets[1:]))]
  train, dev = feats(enc_train), feats(enc_dev)
  no_decay = lambda n: n.endswith("bias") or "LayerNorm" in n
  groups = [{"params": [p for n, p in model.named_parameters() if not no_decay(n)],
             "weight_decay": opt.weight_decay},
            {"params": [p for n, p in model.named_parameters() if no_decay(n)],
             "weight_decay": 0.0}]
  optim = torch.optim.AdamW(groups, lr=lr, betas=(opt.b1, opt.b2), eps=opt.eps)
  sched = transformers.get_linear_schedule_with_warmup(optim, round(0.1 * steps), steps)
  order = np.random.default_rng(seed)
  t_start, timed_s, timed_n, done = time.perf_counter(), 0.0, 0, 0
  model.train()
  while done < steps:
    perm = order.permutation(len(train))
    for k in range(0, len(perm), batch):
      if done == steps:
        break
      t0 = time.perf_counter()
      b = collate([train[i] for i in perm[k:k + batch]])
      loss = model(**b).loss
      loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), opt.clip_norm)
      optim.step()
      sched.step()
      optim.zero_grad()
      if done > 0:                     # the first step is left out, as jaxbert's compile
        timed_s, timed_n = timed_s + time.perf_counter() - t0, timed_n + len(b["labels"])
      done += 1
  wall = time.perf_counter() - t_start
  model.eval()
  right = 0
  with torch.inference_mode():
    for k in range(0, len(dev), 64):
      b = collate(dev[k:k + 64])
      right += int((model(**b).logits.argmax(-1) == b["labels"]).sum())
  return {"impl": "hf-torch", "steps": done, "examples_per_step": batch,
          "examples_per_s": timed_n / timed_s, "wall_s": wall,
          "dev_accuracy": right / len(dev)}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--models", default="bert-mini,bert-base")
  ap.add_argument("--data", default=DATA, help="a directory with train.csv and dev.csv")
  ap.add_argument("--batch", type=int, default=32, help="Hugging Face: examples per step")
  ap.add_argument("--epochs", type=int, default=1, help="whole-epoch runs (not bert-base)")
  ap.add_argument("--base-steps", type=int, default=24, help="steps of a bert-base run")
  ap.add_argument("--rounds", type=int, default=2, help="runs of each side per preset")
  ap.add_argument("--lr", type=float, default=5e-4, help="tiny and mini presets")
  ap.add_argument("--base-lr", type=float, default=1e-4, help="base and large presets")
  ap.add_argument("--name", default="finetune_speed")
  ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  args = ap.parse_args()

  from jaxbert.data import labelled, packing
  from jaxbert.data.tokenizer import train_tokenizer
  from train.configs.finetune_default import finetune_data_config
  train_csv, dev_csv = (os.path.join(args.data, f) for f in ("train.csv", "dev.csv"))
  if not os.path.exists(train_csv):
    raise SystemExit(f"error: {train_csv} not found; run python -m data.vader "
                     "--out=data_cache/labelled first")
  cols = dict(text_column="text", pair_column="", label_column="label")
  train = labelled.read_examples(train_csv, split="train", **cols)
  dev = labelled.read_examples(dev_csv, split="dev", **cols)
  space = labelled.label_space(train)
  tok = train_tokenizer(train.texts, 8192)
  enc_train, enc_dev = (labelled.encode(x, space, tok, 128) for x in (train, dev))
  d = finetune_data_config()                                # the recipe's packing
  data = packing.LabelledData(enc_train, enc_dev, space, max_length=128,
                              max_segments=d.max_segments, open_rows=d.open_rows,
                              pack=True, token_types=True, seed=0)
  hf_steps = math.ceil(len(enc_train) / args.batch)         # an epoch of HF batches
  packed_rows = len(data.epoch_rows(0))
  rows = max(1, round(packed_rows / hf_steps))              # the same steps per epoch
  print(f"{len(enc_train)} train / {len(enc_dev)} dev examples, mean "
        f"{enc_train.lengths.mean():.1f} tokens; packed {len(enc_train) / packed_rows:.2f} "
        f"per row of 128: {rows} rows per jaxbert step ({math.ceil(packed_rows / rows)} steps "
        f"per epoch) against {args.batch} examples per HF step ({hf_steps})", flush=True)

  results = []
  with tempfile.TemporaryDirectory() as tmp:
    # The same split files the HF side encodes: finetune.run reads them itself.
    small_dev = os.path.join(tmp, "dev_small.csv")
    with open(dev_csv, encoding="utf-8") as f:
      head = [next(f) for _ in range(257)]                   # header + 256 sentences
    with open(small_dev, "w", encoding="utf-8") as f:
      f.writelines(head)
    for preset in args.models.split(","):
      init = make_init(preset, tok, os.path.join(tmp, f"init-{preset}"))
      base = preset.startswith(("bert-base", "bert-large"))
      lr = args.base_lr if base else args.lr
      runs = []
      for r in range(args.rounds):
        wd = os.path.join(tmp, f"jax-{preset}-{r}")
        if base:
          j = run_jaxbert(init, train_csv, small_dev, rows=rows, lr=lr, epochs=1,
                          steps=args.base_steps, workdir=wd)
          h = run_hf(init, enc_train, _head(enc_dev, 256),
                     batch=args.batch, lr=lr, steps=args.base_steps)
          j["dev_accuracy"] = h["dev_accuracy"] = None   # after a few steps: not compared
        else:
          j = run_jaxbert(init, train_csv, dev_csv, rows=rows, lr=lr, epochs=args.epochs,
                          steps=-1, workdir=wd)
          h = run_hf(init, enc_train, enc_dev, batch=args.batch, lr=lr,
                     steps=args.epochs * hf_steps)
        for x in (j, h):
          x.update(model=preset, round=r, lr=lr, load_average=environment.load_average())
          print(json.dumps(x), flush=True)
        runs += [j, h]
      med = {impl: statistics.median(x["examples_per_s"] for x in runs if x["impl"] == impl)
             for impl in ("jaxbert", "hf-torch")}
      results.append({"model": preset, "runs": runs, "examples_per_s": med,
                      "speedup": med["jaxbert"] / med["hf-torch"]})
      print(f"{preset}: jaxbert {med['jaxbert']:.0f} ex/s, HF PyTorch {med['hf-torch']:.0f} "
            f"ex/s: {med['jaxbert'] / med['hf-torch']:.2f}x", flush=True)

  record = {"env": environment.describe(), "args": vars(args), "rows_per_step": rows,
            "hf_steps_per_epoch": hf_steps, "train_examples": len(enc_train),
            "dev_examples": len(enc_dev), "mean_tokens": float(enc_train.lengths.mean()),
            "examples_per_row": len(enc_train) / packed_rows, "results": results}
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
    json.dump(record, f, indent=2, default=str)
  se = math.sqrt(0.25 / len(enc_dev))
  lines = [f"# Fine-tuning speed: jaxbert (packed) vs HF PyTorch (dynamic padding), VADER "
           f"binary", "",
           f"{record['env']['cpu_model']}, {record['env']['cpu_count']} cores; commit "
           f"{record['env']['commit']}; {args.batch} examples per HF step, {rows} packed rows "
           f"(~{rows * record['examples_per_row']:.1f} examples) per jaxbert step.", "",
           "| model | lr | steps | jaxbert ex/s | HF PyTorch ex/s | speed-up | jaxbert dev acc | "
           "HF dev acc | jaxbert wall s | HF wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
  for res in results:
    j = [x for x in res["runs"] if x["impl"] == "jaxbert"]
    h = [x for x in res["runs"] if x["impl"] == "hf-torch"]
    acc = lambda xs: "—" if xs[0]["dev_accuracy"] is None else f"{xs[0]['dev_accuracy']:.4f}"
    lines.append(f"| {res['model']} | {j[0]['lr']:g} | {j[0]['steps']} / {h[0]['steps']} | "
                 f"{res['examples_per_s']['jaxbert']:.0f} | {res['examples_per_s']['hf-torch']:.0f}"
                 f" | **{res['speedup']:.2f}x** | {acc(j)} | {acc(h)} | "
                 f"{statistics.median(x['wall_s'] for x in j):.0f} | "
                 f"{statistics.median(x['wall_s'] for x in h):.0f} |")
  lines += ["", f"Dev accuracy noise (binomial standard error at p = 0.5): ±{se:.4f}."]
  with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


def _head(enc, n: int):
  """The first n examples of an Encoded."""
  from jaxbert.data.labelled import Encoded
  n = min(n, len(enc))
  end = enc.offsets[n]
  return Encoded(tokens=enc.tokens[:end], types=enc.types[:end], offsets=enc.offsets[:n + 1],
                 labels=enc.labels[:n], truncated=0)


if __name__ == "__main__":
  main()
