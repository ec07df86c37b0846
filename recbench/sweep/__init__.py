"""Hyperparameter sweeps on Optuna: search space, study storage, the sweep loop, pruning.

The Hydra plugin that runs them is ``hydra_plugins/recbench_optuna_sweeper``.
"""
