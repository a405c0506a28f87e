"""Run by test_cli.py in a subprocess with 8 simulated CPU devices: the distillation step
in every parallel mode gives the parameters of one device (same global batch, uneven
padding, a padded row)."""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from test_step import _batch, tiny_setup  # noqa: E402
from train import optim, parallel, state as state_lib  # noqa: E402
from train.configs.distill import distill_config  # noqa: E402


def run(par, t_params, s_params, loss_fn, batches):
  tx, schedule = optim.make_optimizer(1e-2, 10, distill_config().optimizer)
  state = par.init_state(lambda _: state_lib.create_state(s_params, tx), jax.random.key(0))
  step = par.compile_train(loss_fn=loss_fn, tx=tx, schedule=schedule)
  extra = par.put_extra(t_params)
  for b in batches:
    state, metrics = step(state, par.put_batch(b), jax.random.key(0), extra)
  return jax.device_get(state.params), float(metrics["loss"])


def main():
  assert jax.device_count() == 8, jax.devices()
  t_params, s_params, loss_fn = tiny_setup()
  batches = [_batch(i, pad_rows=3) for i in range(3)]
  # 16 rows per step: uneven lengths, masks and a padded row spread over the devices.
  batches = [{k: np.concatenate([a[k], c[k]]) for k in a}
             for a, c in zip(batches, [_batch(10 + i) for i in range(3)])]
  want, want_loss = run(parallel.Parallel("jit", devices=jax.devices()[:1]),
                        t_params, s_params, loss_fn, batches)
  modes = [("jit", dict(data=8)), ("jit", dict(data=2, fsdp=4)), ("pmap", {}),
           ("shard_map", {})]
  for mode, kw in modes:
    got, loss = run(parallel.Parallel(mode, **kw), t_params, s_params, loss_fn, batches)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6),
                 got, want)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    print(f"{mode} {kw}: ok (loss {loss:.6f})")
  print("MODES OK")


if __name__ == "__main__":
  main()
