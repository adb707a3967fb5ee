"""The HTTP floor for the hot-path benchmark: aiohttp decoding a submit's JSON and answering 202, nothing else.

Run: ``python -m bench.bare_http PORT``. What it costs per request, beside what taskgate's gateway costs for the
same POSTs, is the part of a submit no gateway of this kind can save (``bench/bench_hot_path.py cpu``).
"""

from __future__ import annotations

import sys

import msgspec
from aiohttp import web

_decoder = msgspec.json.Decoder()
_accepted = msgspec.json.encode({"status": "PENDING"})


async def submit(request: web.Request) -> web.Response:
    """Decode the body and answer 202, as a submit's HTTP part does."""
    _decoder.decode(await request.read())
    return web.Response(body=_accepted, status=202, content_type="application/json")


def main() -> None:
    """Serve ``POST /v1/tasks`` on the port given until stopped."""
    app = web.Application()
    app.router.add_post("/v1/tasks", submit)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
