"""The understanding model's data: the training-set generator (generate.py, styles.py), its
splits (train.jsonl, test.jsonl) and the hand-written evaluation sets (README.md says which is which)."""
