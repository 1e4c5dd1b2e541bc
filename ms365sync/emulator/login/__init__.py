"""The identity platform as MSAL calls it: the directory of apps, client assertion checks,
access tokens and the discovery and token endpoints."""
