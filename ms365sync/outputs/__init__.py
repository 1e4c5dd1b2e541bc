"""The files ms365sync publishes: the change log, .permissions.json, the grants file, schemas."""
