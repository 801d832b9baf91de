"""What only local mode reads (`FANMAIL_LOCAL_*`), apart from the product's Settings: how its
stand-in for people engages with the mail it gets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from fanmail.domain.errors import InvalidInput

PREFIX = "FANMAIL_LOCAL_"


@dataclass(frozen=True, slots=True)
class LocalSettings:
    open_rate: float = 0.3
    """Share of delivered messages the mailbox simulator opens (real SES reports no opens or
    clicks for its simulator addresses: this stands in for people)."""
    click_rate: float = 0.1
    """Share of delivered messages it clicks a link in."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalSettings:
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            raw = env.get(name)
            if raw:
                values[f.name] = _share(name, raw)
        return cls(**values)


def _share(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise InvalidInput(f"setting {name}={raw!r}: must be a fraction from 0 to 1 (e.g. 0.3)")
    return value
