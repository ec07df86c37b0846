"""Linear algebra for fitted models: item and user similarities, sparse matrices kept as buffers."""
