"""The grammar of the names a client uses to reach the server: Host headers, Origins, and the
host allow-list entries an operator writes (`STRATEGYLAB_ALLOWED_HOSTS`).

Every spelling is reduced to one normal form before any comparison, so `LOCALHOST:8000`,
`localhost.:8000` and `localhost:8000` are the same name, `[0:0::1]` is `[::1]`, and anything
that is not a plain host name, IPv4 address or bracketed IPv6 address (user info, paths,
spaces, a port out of range) is no name at all.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_AUTHORITY = re.compile(r"(?P<host>\[[0-9a-f:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?")
_ORIGIN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<authority>[^/?#@\s]+)")


@dataclass(frozen=True, slots=True)
class HostName:
    """A normalised host: lower-case name without a trailing dot (IPv6 in brackets), and the
    port when one was written."""

    name: str
    port: int | None = None

    def __str__(self) -> str:
        return self.name if self.port is None else f"{self.name}:{self.port}"


@dataclass(frozen=True, slots=True)
class HostPattern:
    """One allow-list entry: a name (or `*.suffix`, any name below it) and an optional port."""

    name: str
    port: int | None = None
    is_wildcard: bool = False

    def matches(self, host: HostName, default_port: int) -> bool:
        """True when `host` (reached on a scheme whose default port is `default_port`) is
        this entry's name, at this entry's port when it names one."""
        if self.is_wildcard:
            is_name = host.name.endswith("." + self.name)
        else:
            is_name = host.name == self.name
        return is_name and (self.port is None or self.port == (host.port or default_port))

    def __str__(self) -> str:
        name = f"*.{self.name}" if self.is_wildcard else self.name
        return name if self.port is None else f"{name}:{self.port}"


def parse_host(text: str) -> HostName | None:
    """The normal form of a Host header value (or an origin's authority); None if malformed."""
    match = _AUTHORITY.fullmatch(text.lower())
    if match is None:
        return None
    name = _normal_name(match["host"])
    port = match["port"]
    if name is None or (port is not None and not 1 <= int(port) <= 65535):
        return None
    return HostName(name, int(port) if port is not None else None)


def parse_host_pattern(text: str) -> HostPattern:
    """One allow-list entry (`name`, `name:port`, `*.domain`, `[v6]:port`); ValueError says
    what is wrong with a malformed one."""
    entry = text.strip().lower()
    is_wildcard = entry.startswith("*.")
    if is_wildcard:
        entry = entry[2:]
    elif _is_bare_ipv6(entry):
        entry = f"[{entry}]"
    host = parse_host(entry)
    if host is None or "*" in entry:
        raise ValueError(
            f"{text!r} is not a host name: write a name, an IPv4 address or a bracketed IPv6 "
            "address, optionally with :port (e.g. lab.example.com, 192.168.1.20:8000, [::1], "
            "*.example.com)"
        )
    if is_wildcard and host.name.startswith("["):
        raise ValueError(f"{text!r}: a wildcard entry must be '*.' followed by a domain name")
    return HostPattern(host.name, host.port, is_wildcard)


def parse_origin(text: str) -> tuple[str, HostName] | None:
    """The scheme and host of an `Origin` header; None for `null` or anything malformed."""
    match = _ORIGIN.fullmatch(text.strip().lower())
    if match is None:
        return None
    host = parse_host(match["authority"])
    if host is None:
        return None
    return match["scheme"], without_default_port(host, match["scheme"])


def without_default_port(host: HostName, scheme: str) -> HostName:
    """`host` with its port dropped when it is `scheme`'s default (`:80` for http)."""
    if host.port is not None and host.port == DEFAULT_PORTS.get(scheme):
        return HostName(host.name)
    return host


def is_loopback_host(name: str) -> bool:
    """True for `localhost` and loopback addresses (any spelling `parse_host` accepts)."""
    host = parse_host(name) or parse_host(f"[{name}]")
    if host is None:
        return False
    if host.name == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.name.strip("[]")).is_loopback
    except ValueError:
        return False


def _normal_name(raw: str) -> str | None:
    if raw.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError:
            return None
    name = raw[:-1] if raw.endswith(".") else raw
    if len(name) > 253 or not _HOST_NAME.fullmatch(name):
        return None
    return name


def _is_bare_ipv6(entry: str) -> bool:
    try:
        ipaddress.IPv6Address(entry)
    except ValueError:
        return False
    return True
