"""How long personal data lives. DynamoDB's TTL removes whole items (ledger records, problem
records, rejected rows, sign-ups) when their time is up; the source IPs in a subscriber's
consent history sit inside an item that must stay, so a scheduled job keeps, truncates or drops
them once they are older than the setting says."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from enum import StrEnum

from fanmail.domain.model import StatusChange

TRUNCATED_V4 = 24
TRUNCATED_V6 = 48


class IpRetention(StrEnum):
    KEEP = "keep"
    TRUNCATE = "truncate"  # the network, not the machine: 192.0.2.0/24, 2001:db8::/48
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class ConsentIps:
    """What happens to a consent entry's source IP after `days` days."""

    policy: IpRetention = IpRetention.KEEP
    days: float = 365.0

    def applied(self, history: tuple[StatusChange, ...], now: float) -> tuple[StatusChange, ...]:
        """The history with old IPs truncated or dropped (the same tuple when nothing changes:
        a truncated network or an admin's principal is not an address)."""
        if self.policy is IpRetention.KEEP:
            return history
        before = now - self.days * 86400
        changed = tuple(
            replace(c, source=self._redacted(c.source)) if c.at < before else c for c in history
        )
        return history if changed == history else changed

    def in_record(self, source: str, lives_days: float) -> str:
        """An IP kept in a record that no job rewrites and that TTL removes after
        `lives_days` (an open's or a click's): truncated or dropped at once when the record
        would outlive `days`, so it is never kept longer than the setting says."""
        if self.policy is IpRetention.KEEP or lives_days <= self.days:
            return source
        return self._redacted(source)

    def _redacted(self, source: str) -> str:
        try:
            address = ipaddress.ip_address(source)
        except ValueError:
            return source
        if self.policy is IpRetention.DROP:
            return ""
        bits = TRUNCATED_V4 if address.version == 4 else TRUNCATED_V6
        return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))
