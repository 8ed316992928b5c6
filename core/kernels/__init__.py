"""Fused kernels (e.g. a Triton FlashAttention), each beside the readable path in the core's root that it speeds up
and is tested against."""
