"""Hugging Face transformers PyTorch runners: eager (SDPA attention) and torch.compile.

The training step is what a user of transformers runs: ...ForMaskedLM forward with
`labels` (-100 on unmasked positions, logits at every position), loss.backward(),
torch.optim.AdamW step, zero_grad.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks import flops
from benchmarks.hf_models import classes, family, hf_config, model_inputs
from benchmarks.inputs import hf_labels
from benchmarks.timing import Runner
from jaxbert.configs import EncoderConfig


def _autocast(dtype: str):
  if dtype == "bfloat16" and torch.cuda.is_available():
    return torch.autocast("cuda", dtype=torch.bfloat16)
  return torch.autocast("cpu", enabled=False)


def _device() -> str:
  return "cuda" if torch.cuda.is_available() else "cpu"


def _sync():
  if torch.cuda.is_available():
    torch.cuda.synchronize()


def _to(x):
  return torch.as_tensor(np.asarray(x)).to(_device())


def _compiled(impl: str, module, first_call) -> tuple[object, float | None]:
  """torch.compile(module) when impl ends with '-compile'; first call = compile time."""
  if not impl.endswith("compile"):
    return module, None
  module = torch.compile(module)
  t0 = time.perf_counter()
  first_call(module)
  _sync()
  return module, time.perf_counter() - t0


def _block(cfg: EncoderConfig, which: str):
  """One attention sublayer or one transformer layer of the family (SDPA)."""
  import transformers.models.albert.modeling_albert as al
  import transformers.models.bert.modeling_bert as bt
  import transformers.models.distilbert.modeling_distilbert as db
  hcfg = hf_config(cfg.replace(dropout_rate=0.0, attention_dropout_rate=0.0))
  hcfg._attn_implementation = "sdpa"
  fam = family(cfg)
  if fam == "bert":
    return bt.BertAttention(hcfg) if which == "attention" else bt.BertLayer(hcfg)
  if fam == "albert":
    cls = al.AlbertSdpaAttention if hasattr(al, "AlbertSdpaAttention") else al.AlbertAttention
    return cls(hcfg) if which == "attention" else al.AlbertLayer(hcfg)
  cls = db.DistilBertSdpaAttention if hasattr(db, "DistilBertSdpaAttention") else (
      db.MultiHeadSelfAttention)
  return cls(hcfg) if which == "attention" else db.TransformerBlock(hcfg)


def fwd_bwd(cfg: EncoderConfig, batch: int, length: int, which: str, impl: str) -> Runner:
  torch.manual_seed(0)
  module = _block(cfg, which).to(_device()).eval()
  x = torch.randn(batch, length, cfg.hidden_size, device=_device(), requires_grad=True)
  g = torch.randn(batch, length, cfg.hidden_size, device=_device())
  mask = torch.zeros(batch, 1, 1, length, device=_device())              # additive, all kept
  params = [p for p in module.parameters()]
  fam = family(cfg)

  def call(m):
    if fam == "distilbert":
      out = m(x, x, x, mask=torch.ones(batch, length, device=_device())) if which == "attention" \
          else m(x, attn_mask=torch.ones(batch, length, device=_device()))
    else:
      out = m(x, attention_mask=mask)
    out = out[0] if isinstance(out, tuple) else out
    with _autocast(cfg.dtype):
      torch.autograd.grad(out, [x] + params, g)

  module, compile_s = _compiled(impl, module, call)
  f = (flops.attention_block(cfg, batch, length) if which == "attention"
       else flops.encoder_layer(cfg, batch, length))

  def step():
    with _autocast(cfg.dtype):
      call(module)
    _sync()
  return Runner(impl, step, compile_s, None, flops.TRAIN_FACTOR * f)


def inference(cfg: EncoderConfig, batch: dict, impl: str) -> Runner:
  torch.manual_seed(0)
  model = classes(cfg)["base"](hf_config(cfg)).to(_device()).eval()
  inputs = model_inputs(cfg, batch, _to)

  def call(m):
    with torch.inference_mode(), _autocast(cfg.dtype):
      m(**inputs)

  model, compile_s = _compiled(impl, model, call)
  b, l = batch["input_ids"].shape

  def step():
    call(model)
    _sync()
  return Runner(impl, step, compile_s, None, flops.encoder(cfg, b, l))


def train(cfg: EncoderConfig, batch: dict, impl: str, learning_rate: float = 1e-4) -> Runner:
  torch.manual_seed(0)
  model = classes(cfg)["mlm"](hf_config(cfg)).to(_device()).train()
  optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
  inputs = model_inputs(cfg, batch, _to)
  labels = _to(hf_labels(batch))

  def call(m):
    with _autocast(cfg.dtype):
      loss = m(**inputs, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)

  model, compile_s = _compiled(impl, model, call)
  b, l = batch["input_ids"].shape

  def step():
    call(model)
    _sync()
  # Hugging Face's ...ForMaskedLM has no pooler/NSP head and projects all B * L rows.
  return Runner(impl, step, compile_s, None, flops.train_step(cfg, b, l, b * l, pooler=False))
