"""Which hosts outbound calls (webhooks, URL inputs) may reach: allowed and denied networks from settings."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any
from urllib.parse import urlsplit

from config.errors import ConfigError
from config.settings import NetworkPolicySettings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
# A label that URL parsers and inet_aton read as a number: decimal, octal (leading 0) or hex (0x).
_NUMERIC_LABEL = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")


class UrlRefused(ValueError):
    """Raised when a URL is malformed or its host is not allowed by the network policy."""


def check_url_syntax(url: str) -> str:
    """Check that ``url`` is an absolute http(s) URL with a host; return its host.

    Raises:
        UrlRefused: another scheme, no host, credentials in it, or longer than 2048 characters.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise UrlRefused(f"{url[:100]!r} contains a control character")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise UrlRefused(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"{url!r} must start with http:// or https://")
    if not parts.hostname:
        raise UrlRefused(f"{url!r} has no host")
    if parts.username or parts.password:
        raise UrlRefused("credentials in the URL are not allowed; use a secret the receiver checks instead")
    if any(c.isspace() for c in url):
        raise UrlRefused(f"{url!r} contains whitespace")
    _check_numeric_host(parts.hostname)
    return parts.hostname


def _check_numeric_host(host: str) -> None:
    """Refuse IPv4 addresses spelled other than as four decimal numbers (``2130706433``, ``0x7f.1``, ``0177.0.0.1``).

    HTTP clients and resolvers read a host whose last label is a number as an IPv4 address, in decimal, octal or
    hex and with fewer than four parts; only the canonical dotted quad is checked against the policy as written.

    Raises:
        UrlRefused: the host would be read as an IPv4 address but is not a canonical dotted quad.
    """
    labels = host.rstrip(".").split(".")
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return
    try:
        ipaddress.IPv4Address(host.rstrip("."))
    except ValueError:
        raise UrlRefused(f"{host!r} is an IPv4 address in another form; write it as four decimal numbers") from None


def _address(text: str) -> IpAddress | None:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class NetPolicy:
    """Allowed and denied networks and host names; the longest matching prefix decides, ties deny."""

    def __init__(self, settings: NetworkPolicySettings) -> None:
        try:
            self.allow = [ipaddress.ip_network(n, strict=False) for n in settings.allow]
            self.deny = [ipaddress.ip_network(n, strict=False) for n in settings.deny]
        except ValueError as exc:
            raise ConfigError(f"network_policy: {exc}") from None
        self.deny_hosts = {h.lower().rstrip(".") for h in settings.deny_hosts}
        self.default_allow = settings.default == "allow"

    def address_allowed(self, addr: IpAddress) -> bool:
        """Return whether connecting to ``addr`` is allowed."""
        best_allow = max((n.prefixlen for n in self.allow if addr.version == n.version and addr in n), default=-1)
        best_deny = max((n.prefixlen for n in self.deny if addr.version == n.version and addr in n), default=-1)
        if best_allow < 0 and best_deny < 0:
            return self.default_allow
        return best_allow > best_deny

    def check_address(self, text: str, host: str) -> None:
        """Check one resolved address of ``host``.

        Raises:
            UrlRefused: the address is denied.
        """
        addr = _address(text)
        if addr is None or not self.address_allowed(addr):
            raise UrlRefused(f"{host!r} resolves to {text}, which the network policy denies")

    def check_url(self, url: str) -> str:
        """Check a URL without resolving it: syntax, denied host names and literal addresses; return the host.

        Raises:
            UrlRefused: the URL is malformed or names a denied host or address.
        """
        host = check_url_syntax(url).lower().rstrip(".")
        if host in self.deny_hosts:
            raise UrlRefused(f"{host!r} is a denied host (cloud metadata)")
        if _address(host) is not None:
            self.check_address(host, host)
        return host

    async def resolve(self, host: str, port: int) -> list[dict[str, Any]]:
        """Resolve ``host`` and check every address (a host that resolves anywhere denied is refused).

        Raises:
            UrlRefused: any resolved address is denied.
            OSError: the name does not resolve.
        """
        import asyncio  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        hosts = []
        for family, _type, proto, _name, sockaddr in infos:
            self.check_address(str(sockaddr[0]), host)
            hosts.append(
                {
                    "hostname": host,
                    "host": str(sockaddr[0]),
                    "port": int(sockaddr[1]),
                    "family": family,
                    "proto": proto,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return hosts


def policy_connector(policy: NetPolicy) -> Any:
    """Return an aiohttp connector whose every connection is checked against ``policy`` (no proxies)."""
    import aiohttp  # noqa: PLC0415  (config stays importable without aiohttp's start-up cost)
    from aiohttp.abc import AbstractResolver  # noqa: PLC0415

    class _PolicyResolver(AbstractResolver):  # type: ignore[misc]
        async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> Any:
            return await policy.resolve(host, port)

        async def close(self) -> None:
            return None

    return aiohttp.TCPConnector(resolver=_PolicyResolver(), use_dns_cache=False, force_close=True)


__all__ = ["MAX_URL_LENGTH", "NetPolicy", "UrlRefused", "check_url_syntax", "policy_connector"]
