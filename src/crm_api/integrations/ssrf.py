"""The SSRF guard: a webhook may only point at the public internet, unless the operator
allows a host or network (CRM_WEBHOOK_ALLOW). Checked when a webhook is created or changed, and
again before every send, since what a name resolves to can change."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class UrlRefused(Exception):
    """The URL may not receive webhooks; the message says why (safe to show the caller)."""


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class UrlGuard:
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    resolver: Resolver = resolve

    @classmethod
    def from_setting(cls, allow: str, resolver: Resolver = resolve) -> UrlGuard:
        """`allow`: comma-separated host names, addresses or CIDRs (`10.0.0.0/8`)."""
        hosts: set[str] = set()
        networks = []
        for item in (part.strip().lower() for part in allow.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.rstrip("."))
        return cls(frozenset(hosts), tuple(networks), resolver)

    def _allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allowed_networks)

    def check(self, url: str) -> list[str]:
        """Refuse (UrlRefused) anything but http(s) to public addresses or allowed ones;
        returns the addresses the host resolves to."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise UrlRefused("only http and https URLs can receive webhooks")
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise UrlRefused("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise UrlRefused("credentials in the URL are not accepted; use the signing secret")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UrlRefused("the URL's port is not valid") from None
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError):
            raise UrlRefused(f"the host {host} does not resolve") from None
        if not addresses:
            raise UrlRefused(f"the host {host} does not resolve")
        if host in self.allowed_hosts:
            return addresses
        refused = [a for a in _parsed(addresses) if not (_is_public(a) or self._allowed(a))]
        if refused:
            raise UrlRefused(
                f"the host {host} resolves to a private, loopback, link-local, multicast or "
                "reserved address; allow it with CRM_WEBHOOK_ALLOW if it is meant to be reached"
            )
        return addresses


def _parsed(addresses: Iterable[str]) -> list[IPAddress]:
    return [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
