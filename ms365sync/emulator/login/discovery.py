"""The identity platform's discovery documents: the v2.0 OpenID configuration of a tenant or
of `common`/`organizations`, and instance discovery's alias groups."""

from __future__ import annotations

from typing import Any

from ms365sync.emulator.transport.hosts import split_host

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# (cloud_instance_name, msgraph_host) per login host, as the clouds' discovery documents say.
_CLOUDS = {
    "login.microsoftonline.us": ("microsoftonline.us", "graph.microsoft.us"),
    "login.usgovcloudapi.net": ("microsoftonline.us", "graph.microsoft.us"),
    "login.partner.microsoftonline.cn": (
        "partner.microsoftonline.cn",
        "microsoftgraph.chinacloudapi.cn",
    ),
    "login.chinacloudapi.cn": ("partner.microsoftonline.cn", "microsoftgraph.chinacloudapi.cn"),
}
# The alias groups of samples/10-instance-discovery.real-recording.json.
_ALIAS_GROUPS = (
    (
        "login.microsoftonline.com",
        "login.windows.net",
        [
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net",
        ],
    ),
    (
        "login.partner.microsoftonline.cn",
        "login.partner.microsoftonline.cn",
        ["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    ),
    ("login.microsoftonline.de", "login.microsoftonline.de", ["login.microsoftonline.de"]),
    (
        "login.microsoftonline.us",
        "login.microsoftonline.us",
        ["login.microsoftonline.us", "login.usgovcloudapi.net"],
    ),
    (
        "login-us.microsoftonline.com",
        "login-us.microsoftonline.com",
        ["login-us.microsoftonline.com"],
    ),
)


def oidc_document(origin: str, host: str, tenant: str, *, alias: bool) -> dict[str, Any]:
    """The v2.0 OpenID configuration served at `origin` (the request's `host`) for `tenant`:
    the tenant GUID, or with `alias` the `common`/`organizations` name, whose issuer keeps
    Entra's `{tenantid}` placeholder and whose `tenant_region_scope` is null."""
    name, _ = split_host(host)
    cloud, graph_host = _CLOUDS.get(name, ("microsoftonline.com", "graph.microsoft.com"))
    if name in LOOPBACK_NAMES:
        graph_host = host  # the emulator serves Graph on the same origin
    document = _document(f"{origin}/{tenant}", cloud, graph_host)
    if alias:
        document["issuer"] = f"{origin}/{{tenantid}}/v2.0"
        document["tenant_region_scope"] = None
    return document


def instance_metadata() -> list[dict[str, Any]]:
    """The `metadata` of instance discovery: Microsoft's login host alias groups."""
    return [
        {"preferred_network": net, "preferred_cache": cache, "aliases": aliases}
        for net, cache, aliases in _ALIAS_GROUPS
    ]


def _document(base: str, cloud: str, graph_host: str) -> dict[str, Any]:
    # Field order and values follow samples/10-openid-configuration-v2.real-recording.json.
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"https://{graph_host}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [
            *("sub", "iss", "cloud_instance_name", "cloud_instance_host_name"),
            *("cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time"),
            *("acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash"),
            *("c_hash", "email"),
        ],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "WW",
        "cloud_instance_name": cloud,
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": graph_host,
        "rbac_url": "https://pas.windows.net",
    }
