"""Built-in model plugins: one module per model, configured by ``conf/model/<name>.yaml``."""
