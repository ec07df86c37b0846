"""Training: batches built in whole tensors, one Lightning module, one runner for fitted models."""
