"""Attention Lab's from-scratch transformer core (torch + numpy only; never streamlit or plotly).

masks.py       boolean attention masks as values (True = may attend)
attention.py   attention with its trace, masked_softmax, the naive reference path
multihead.py   multi-head / grouped-query attention with a KV cache
positional.py  sinusoidal, learned, RoPE, ALiBi, T5 relative-position bias
blocks.py      feed-forward, LayerNorm / RMSNorm, encoder and decoder layers
models.py      encoder-only, decoder-only, encoder-decoder models with per-layer traces
device.py      resolve the learner's device choice
"""
