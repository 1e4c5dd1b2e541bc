"""The per-target state store (SQLite under `<local_root>/.ms365sync/`), split by table."""
