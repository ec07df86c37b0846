"""recbench's Hydra Sweeper on Optuna >= 4: ``python run.py -m hparams_search=mlp_optuna``."""
