"""Using a finished run: recommendations and explanations without retraining."""
