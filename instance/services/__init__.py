"""Services: what people and peers can do, one module per area; web views and the CLI call these."""
