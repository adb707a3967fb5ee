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
# IPv6 ranges whose last 32 bits are an IPv4 address the packets end up at: IPv4-mapped, IPv4-translated
# (SIIT), IPv4-compatible (deprecated) and NAT64 (well-known prefix). A URL must name that IPv4 address itself,
# so the policy checks it as written; a resolved address in them is checked as the IPv4 address it carries.
_CARRIES_V4 = tuple(ipaddress.IPv6Network(n) for n in ("::ffff:0:0/96", "::ffff:0:0:0/96", "::/96", "64:ff9b::/96"))
# The local-use NAT64 prefix (RFC 8215) embeds an IPv4 address at an operator-chosen length: never a URL host.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_NOT_V4 = (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1"))


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
    _check_v6_host(parts.hostname)
    return parts.hostname


def _check_v6_host(host: str) -> None:
    """Refuse an IPv6 literal that is an IPv4 address in another form (``[::ffff:a9fe:a9fe]``, ``[64:ff9b::...]``).

    Raises:
        UrlRefused: the host is an IPv6 address carrying an IPv4 address (mapped, translated, compatible, NAT64).
    """
    try:
        addr = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return
    carried = _carried_v4(addr)
    if carried is not None:
        raise UrlRefused(f"{host!r} is the IPv4 address {carried} in IPv6 form; write it as four decimal numbers")
    if addr in _LOCAL_NAT64:
        raise UrlRefused(f"{host!r} is a NAT64 address (64:ff9b:1::/48); write the IPv4 address it stands for")


def _carried_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address reaches through mapping, translation or NAT64 (else None)."""
    if addr in _NOT_V4:
        return None
    if any(addr in net for net in _CARRIES_V4):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr.sixtofour  # 6to4 (2002::/16): the IPv4 address of the relay the packets go to


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
    if isinstance(addr, ipaddress.IPv6Address):
        return _carried_v4(addr) or addr
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
