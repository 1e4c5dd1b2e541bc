"""The per-target state store (SQLite under `<local_root>/.ms365sync/`), split by table.

`store` opens it (`StateStore`, composed of the table classes below), copies it for dry runs,
sets a corrupt one aside and runs transactions; `schema` creates and versions the tables;
`tree` holds the listing stage and the remote tree, `perms` the permission sets read from
Graph and their stored form, `mirror` the mirror's records and per-file errors, `meta` the
typed metadata, `outbox` the outputs queued for writing and the run history; `db` is the
SQLite connection with its errors translated.
"""
