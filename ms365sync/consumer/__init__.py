"""Reading change logs in order with a durable checkpoint."""
