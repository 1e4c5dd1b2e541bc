"""SharePoint's own REST API (`{site}/_api/...`), the part a membership snapshot reads."""
