"""Micro-benchmarks of jaxbert against Hugging Face PyTorch and Flax (goals: a training
step >= 1.5x HF PyTorch and >= 1.2x HF Flax, inference >= 1.3x HF PyTorch).

    python -m benchmarks.run --suite cpu            # see benchmarks/README.md
"""
