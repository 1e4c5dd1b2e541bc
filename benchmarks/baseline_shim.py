"""Run the original ms365sync 0.3.4 against the emulator (executed by the baseline venv's python).

Only what the emulator needs is changed: the hard-coded Graph root (`GRAPH_ROOT`) and the
login authority point at the emulator's base URL, and MSAL skips instance discovery for
that non-Microsoft host. The emulator's CA comes from REQUESTS_CA_BUNDLE, which `requests`
(and so MSAL) honours. Everything else is 0.3.4 as published. Configuration is the
package's own: TENANT_ID, CLIENT_ID, CLIENT_SECRET from the environment, plus
SHAREPOINT_HOST, SITE_NAME, DOC_LIBRARY and LOCAL_ROOT for its constructor, and
EMULATOR_URL for the shim. Prints one JSON line with the sync's summary.

This file imports nothing from the repository: it runs with `python -I` in a virtual
environment where only ms365sync 0.3.4 and its dependencies are installed.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

LOGIN = "https://login.microsoftonline.com"


def point_at_emulator(base_url: str) -> None:
    import msal

    from ms365sync import sharepoint_sync  # 0.3.4's module

    original = msal.ConfidentialClientApplication

    class _EmulatedAuthority(original):  # type: ignore[misc, valid-type]
        def __init__(self, client_id: str, *args: Any, **kwargs: Any) -> None:
            authority = kwargs.get("authority")
            if isinstance(authority, str) and authority.startswith(LOGIN):
                kwargs["authority"] = base_url + authority[len(LOGIN) :]
            kwargs.setdefault("instance_discovery", False)
            super().__init__(client_id, *args, **kwargs)

    msal.ConfidentialClientApplication = _EmulatedAuthority
    sharepoint_sync.GRAPH_ROOT = f"{base_url}/v1.0"


def main() -> int:
    import ms365sync

    base_url = os.environ["EMULATOR_URL"].rstrip("/")
    point_at_emulator(base_url)
    syncer = ms365sync.SharePointSync(
        sharepoint_host=os.environ["SHAREPOINT_HOST"],
        site_name=os.environ["SITE_NAME"],
        doc_library=os.environ["DOC_LIBRARY"],
        local_root=os.environ["LOCAL_ROOT"],
    )
    changes = syncer.sync()
    summary = {
        "package": ms365sync.__file__,
        "total_files": changes["total_files"],
        "added": len(changes["added"]),
        "modified": len(changes["modified"]),
        "deleted": len(changes["deleted"]),
        "permission_changed": len(changes["permission_changed"]),
    }
    sys.stdout.write("\n" + json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
