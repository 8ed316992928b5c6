"""Fused kernels, each beside the readable path in the core's root that it speeds up and is tested against:
``flash_attention`` is ``core.tiled``'s loop as one Triton kernel (Triton optional: see that module)."""
