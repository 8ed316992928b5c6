"""Measuring what the transformer costs: memory predicted from shapes (memory.py, home of the one MIB) and measured
(memory_meter.py), the one timer (timer.py: median of N runs), the guard that refuses what will not fit
(memory_guard.py), devices and threads (device.py), KV-cache arithmetic (kv_cache_math.py)."""
