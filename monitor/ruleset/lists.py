"""Named lists a rule pack's rules use: ``rules/lists/<name>.txt``, one entry a line.

``#`` starts a comment (a whole line or the rest of one); blank lines are skipped;
entries are stripped. Rules read a list through a function whose list argument is the
list's name as a string constant — ``in_list(country, 'high_risk_countries')`` or
``ip_in(ip, 'blocked_ip_ranges')``. The compiler resolves the name once, at load, to a
precomputed constant (a frozenset of strings, or :func:`compile_ranges`' network table),
so evaluating a rule never looks a list up by name.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> text = "# tor exits\\n192.0.2.0/24  # test net\\n\\n2001:db8::/32\\n"
>>> _ = (d / "blocked.txt").write_text(text)
>>> lists = load_lists(d)
>>> lists["blocked"].entries
('192.0.2.0/24', '2001:db8::/32')
>>> ranges = lists["blocked"].ip_ranges()
>>> ip_in("192.0.2.77", ranges), ip_in("2001:db8::1", ranges), ip_in("10.0.0.1", ranges)
(True, True, False)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.ruleset.exceptions import RuleError

LIST_SUFFIX = ".txt"

# The compiled form of a set of networks, made of plain tuples, frozensets, ints and
# strings only, so that it can be a constant inside a rule's compiled code:
#   (v4 first octets as text, v6 first hextets or None, ((version, prefix, nets), ...))
# where ``nets`` holds each network's address shifted right by its host bits.
IpRanges = tuple[frozenset[str], frozenset[int] | None, tuple[tuple[int, int, frozenset[int]], ...]]


class ListError(RuleError, ValueError):
    """A list entry that cannot be used (e.g. not an IP network for ``ip_in``)."""


@dataclass(frozen=True)
class NamedList:
    name: str
    file: str
    entries: tuple[str, ...]
    lines: tuple[int, ...]  # the file line of each entry
    _ranges: list[IpRanges] = field(default_factory=list, repr=False, compare=False)

    @property
    def strings(self) -> frozenset[str]:
        return frozenset(self.entries)

    def ip_ranges(self) -> IpRanges:
        """The entries as networks (computed once); :class:`ListError` names the file
        and line of an entry that is not an IPv4/IPv6 network or address."""
        if not self._ranges:
            try:
                self._ranges.append(compile_ranges(self.entries))
            except ListError as exc:
                index = exc.args[1] if len(exc.args) > 1 else 0
                raise ListError(f"{self.file}:{self.lines[index]}: {exc.args[0]}") from None
        return self._ranges[0]

    def __reduce__(self) -> tuple[Any, ...]:
        return (NamedList, (self.name, self.file, self.entries, self.lines))


def load_lists(directory: Path) -> dict[str, NamedList]:
    """Every ``*.txt`` list under ``directory`` (none if it does not exist), by name."""
    if not directory.is_dir():
        return {}
    out = {}
    for path in sorted(directory.glob(f"*{LIST_SUFFIX}")):
        out[path.stem] = parse_list(path.stem, str(path), path.read_text(encoding="utf-8"))
    return out


def parse_list(name: str, file: str, text: str) -> NamedList:
    entries: list[str] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(entry)
            lines.append(number)
    return NamedList(name, file, tuple(entries), tuple(lines))


def compile_ranges(entries: Iterable[Any]) -> IpRanges:
    """Networks (``"192.0.2.0/24"``, ``"2001:db8::/32"``, or single addresses) in the
    form :func:`ip_in` checks fast. A bad entry raises ``ListError(message, index)``."""
    v4_heads: set[str] = set()
    v6_heads: set[int] | None = set()
    groups: dict[tuple[int, int], set[int]] = {}
    for index, entry in enumerate(entries):
        try:
            net = ipaddress.ip_network(str(entry).strip())
        except ValueError as exc:
            raise ListError(f"{entry!r} is not an IP network ({exc})", index) from None
        bits = net.max_prefixlen
        shift = bits - net.prefixlen
        groups.setdefault((net.version, net.prefixlen), set()).add(
            int(net.network_address) >> shift
        )
        first = int(net.network_address) >> (bits - 8 if net.version == 4 else bits - 16)
        if net.version == 4:  # every first octet the network covers (at most 256)
            span = 1 << max(0, 8 - net.prefixlen)
            v4_heads.update(str(o) for o in range(first, first + span))
        elif v6_heads is not None:
            if net.prefixlen < 16:
                v6_heads = None  # too wide to list its first hextets: no fast path
            else:
                v6_heads.add(first)
    table = tuple(
        (version, prefix, frozenset(nets)) for (version, prefix), nets in sorted(groups.items())
    )
    return (frozenset(v4_heads), None if v6_heads is None else frozenset(v6_heads), table)


def _is_ranges(value: Any) -> bool:
    return type(value) is tuple and len(value) == 3 and type(value[0]) is frozenset


def ip_in(ip: str, ranges: Any) -> bool:
    """True if ``ip`` (text) is inside one of ``ranges`` (compiled, or a list of
    networks). Not an address: False. The common case — an address whose first octet
    (IPv4) or hextet (IPv6) no listed network covers — costs a string split and a set
    lookup; otherwise the address is parsed and each prefix length is one set lookup."""
    colon = ":" in ip
    if not colon and "." not in ip:
        return False  # not an address (and '' when the event has none)
    if not _is_ranges(ranges):
        ranges = compile_ranges(ranges)  # a literal list; compiled rules pass the table
    if not colon:
        if ip.split(".", 1)[0] not in ranges[0]:
            return False
    elif "." not in ip and not ip.startswith(":"):  # "::1", "::ffff:192.0.2.1": parse them
        try:
            first = int(ip.split(":", 1)[0], 16)
        except ValueError:
            return False
        heads = ranges[1]
        if heads is not None and first not in heads:
            return False
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    value, bits, version = int(addr), addr.max_prefixlen, addr.version
    for net_version, prefix, nets in ranges[2]:
        if net_version == version and value >> (bits - prefix) in nets:
            return True
    return False
