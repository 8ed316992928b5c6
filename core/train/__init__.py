"""Training the shipped models: synthetic tasks (tasks.py), the training loop (training.py), model files (checkpoints.py)."""
