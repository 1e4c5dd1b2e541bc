"""What the tests share, importable as `support` (pyproject.toml puts tests/ on the path).

- `harness`: a small emulated tenant served in-process (or over HTTPS) and a syncer on it;
- `cli`: the demo tenant over HTTPS and a sites.toml pointing at it, for command-line tests;
- `demo`: the demo tenant synced in-process through a sites.toml, and the RAG example as a module;
- `reliability`: the tenant's truth, expected change events, mirror and state checks, virtual
  time, targeted faults and `ms365sync` child processes;
- `changes`: seeded remote changes to one library;
- `certificates`: self-signed client certificates for certificate credentials;
- `schemas_plugin`: the pytest plugin that checks every output the suite writes against its
  JSON Schema.
"""
