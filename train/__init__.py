"""Training entry points and their reusable pieces.

  state.py       TrainState (step, params, opt_state): a plain pytree
  optim.py       optax optimisers (AdamW, LAMB), schedules, weight-decay mask
  steps.py       the one pure train/eval step body (the objectives: jaxbert/losses.py)
  parallel.py    placement and compilation: jit over a mesh, pmap, shard_map
  checkpoint.py  orbax CheckpointManager: state + data-iterator state + config; the best
                 evaluation's parameters; a pretraining workdir's parameters
  loop.py        the generic training loop (eval, best checkpoint, early stopping,
                 logging, checkpoints, signals)
  pretrain.py    `python -m train.pretrain`
  distill.py     `python -m train.distill`
  finetune.py    `python -m train.finetune`
  configs/       ml_collections experiment configs
"""
