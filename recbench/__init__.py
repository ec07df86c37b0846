"""recbench: honest, fast recommender-system experiments on Hydra and PyTorch Lightning."""

__version__ = "0.1.0"
