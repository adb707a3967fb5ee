"""Where Redis is: one URL, or the Redis Sentinels that know the current primary of a named master.

``redis_sentinels`` takes a YAML list or one comma-separated string (``TASKGATE_REDIS_SENTINELS=h1:26379,h2:26379``);
each entry is ``host:port`` (``[v6address]:port`` for IPv6).
"""

from __future__ import annotations

SENTINEL_PORT = 26379


def sentinel_entries(value: list[str] | str | None) -> list[str]:
    """Return the sentinel entries of ``value`` (a list or a comma-separated string), each checked.

    Raises:
        ValueError: an entry is not ``host:port`` with a port in 1..65535.
    """
    if value is None:
        return []
    entries = value.split(",") if isinstance(value, str) else value
    cleaned = [entry.strip() for entry in entries if entry.strip()]
    for entry in cleaned:
        sentinel_address(entry)
    return cleaned


def sentinel_address(entry: str) -> tuple[str, int]:
    """Return ``(host, port)`` of one ``host:port`` entry (the port defaults to Sentinel's 26379).

    Raises:
        ValueError: the host is empty or the port is not an integer in 1..65535.
    """
    if entry.startswith("["):  # [v6address]:port
        host, _, rest = entry[1:].partition("]")
        port_text = rest.removeprefix(":") or str(SENTINEL_PORT)
    elif entry.count(":") == 1:
        host, port_text = entry.split(":")
    elif ":" not in entry:
        host, port_text = entry, str(SENTINEL_PORT)
    else:
        raise ValueError(f"redis_sentinels: {entry!r}: write an IPv6 address as [address]:port")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"redis_sentinels: {entry!r} is not host:port") from None
    if not host or not 1 <= port <= 65535:
        raise ValueError(f"redis_sentinels: {entry!r} is not host:port with a port in 1..65535")
    return host, port
