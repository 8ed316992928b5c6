"""Attention Lab's from-scratch transformer core (torch + numpy only; never streamlit or plotly).

The root holds the transformer the lessons cite:

masks.py         boolean attention masks as values (True = may attend)
attention.py     attention with its trace, masked_softmax, the naive reference path
multihead.py     multi-head / grouped-query attention with a KV cache
positional.py    sinusoidal, learned, RoPE, ALiBi, T5 relative-position bias
blocks.py        feed-forward, LayerNorm / RMSNorm, encoder and decoder layers
models.py        encoder-only, decoder-only, encoder-decoder models with per-layer traces
generation.py    decoding token by token (with or without the KV cache), a trained model's prediction
tiled.py         tiled attention with the online softmax (the FlashAttention forward pass, readable)
efficient.py     efficient variants (sliding window, block-sparse, linear, ...) beside full attention
block_sparse.py  the sparse variants' fast path
vit.py           the Vision Transformer

Sub-packages (the root never imports ``core.lab``):

train/    synthetic tasks, the training loop, checkpoints (safetensors + JSON card)
measure/  memory prediction and measurement, the memory guard, devices, the one timer, KV-cache arithmetic
lab/      experiments that exist for one page (toy inputs, permutation tests, softmax statistics, ...)
kernels/  fused kernels (beside the readable paths they speed up)
"""
