"""HTML views, one module per area; each exposes a ``routes`` list."""
