"""Who stands behind the ids of the grants: the principals snapshot, its refresh and its changes."""
