"""Graph v1.0 itself: the routing table, the handlers and how they render SharePoint's JSON,
delta, $batch, pre-authenticated downloads, query options and one error class per Graph code."""
