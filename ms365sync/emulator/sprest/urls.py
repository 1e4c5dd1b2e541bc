"""SharePoint REST's routing table: method, path pattern after `{site}/_api`, handler, cost.

Patterns match without regard to case, as SharePoint does (`SiteGroups/GetById(3)/Users` and
`sitegroups/getbyid(3)/users` are the same request). SharePoint publishes no resource-unit
table for its REST API; the emulator charges what Graph's table charges for the same kind of
read, 1 for an object and 2 for a collection, to the same per-app budget (graph-facts §16.6).
"""

from __future__ import annotations

BY_ID = r"getbyid\((?P<group_id>\d+)\)"
BY_KEY = r"\((?P<group_id>\d+)\)"
BY_NAME = r"getbyname\('(?P<name>[^']*)'\)"
ROLE = r"associated(?P<role>owner|member|visitor)group"

ROUTES: tuple[tuple[str, str, str, int], ...] = (
    ("GET", r"/web/sitegroups", "site_groups", 2),
    ("GET", r"/web/sitegroups/" + BY_ID, "site_group", 1),
    ("GET", r"/web/sitegroups" + BY_KEY, "site_group", 1),
    ("GET", r"/web/sitegroups/" + BY_NAME, "site_group_named", 1),
    ("GET", r"/web/sitegroups/" + BY_ID + "/users", "site_group_users", 2),
    ("GET", r"/web/sitegroups" + BY_KEY + "/users", "site_group_users", 2),
    ("GET", r"/web/sitegroups/" + BY_NAME + "/users", "site_group_named_users", 2),
    ("GET", r"/web/" + ROLE, "associated_group", 1),
    ("GET", r"/web/" + ROLE + "/users", "associated_group_users", 2),
    ("GET", r"/web/siteusers", "site_users", 2),
    ("GET", r"/web/siteusers/getbyid\((?P<user_id>\d+)\)", "site_user", 1),
    ("GET", r"/web/getuserbyid\((?P<user_id>\d+)\)", "site_user", 1),
)
