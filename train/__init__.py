"""Training entry points and their reusable pieces.

  state.py       TrainState (step, params, opt_state): a plain pytree
  optim.py       optax optimisers (AdamW, LAMB), schedules, weight-decay mask
  steps.py       the one pure train/eval step body and the MLM(+NSP/SOP) loss function
  parallel.py    placement and compilation: jit over a mesh, pmap, shard_map
  checkpoint.py  orbax CheckpointManager: state + data-iterator state + config
  loop.py        the generic training loop (eval, logging, checkpoints, signals)
  pretrain.py    `python -m train.pretrain`
  configs/       ml_collections experiment configs
"""
