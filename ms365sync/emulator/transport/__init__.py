"""How requests reach the emulator: transport-neutral request and response types, host routing,
the in-process `requests` adapter, WSGI glue and the HTTPS server on loopback."""
