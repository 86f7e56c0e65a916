"""Experiment, its variants and results, reachable from Project (the experiments issue)."""
