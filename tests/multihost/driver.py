"""An HTTP client run inside the control namespace: ``python -m tests.multihost.driver BASE_URL REQUESTS``.

REQUESTS is a JSON list of ``[method, path, body]``; it prints one JSON line per request with the status
and the decoded body (status 0: no connection). The test process has no address in the namespaces, so it
reaches the gateway through this (and Redis through a Unix socket).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def call(base_url: str, method: str, path: str, body: object) -> dict[str, object]:
    """Send one request; return its status and decoded body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method)  # noqa: S310  (a test URL)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return {"status": resp.status, "body": json.loads(resp.read() or b"null")}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": json.loads(exc.read() or b"null")}
    except OSError as exc:  # not listening yet, or unreachable: status 0
        return {"status": 0, "body": str(exc)}


def main() -> None:
    """Send every request in argv[2] to argv[1] and print the answers."""
    for method, path, body in json.loads(sys.argv[2]):
        print(json.dumps(call(sys.argv[1], method, path, body)), flush=True)


if __name__ == "__main__":
    main()
