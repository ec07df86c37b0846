"""Full-ranking evaluation, the same for every model."""
