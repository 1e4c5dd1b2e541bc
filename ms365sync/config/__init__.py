"""sites.toml -> targets: the schema, the file as text (TOML, .env, ${VAR}), messages, starter."""
