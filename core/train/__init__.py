"""Training the shipped models: character vocabularies (vocab.py), synthetic tasks (tasks.py), the training loop
(training.py), scoring and attention snapshots (evaluation.py), model files (checkpoints.py)."""
