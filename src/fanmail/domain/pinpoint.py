"""Reading an Amazon Pinpoint endpoint export (JSON lines) as fanmail subscribers.

An export job writes one endpoint per line, in the shape of the Pinpoint API's
EndpointResponse: `ChannelType`, `Address`, `EndpointStatus` (ACTIVE, or INACTIVE once another
endpoint with the same address was updated), `OptOut` (ALL: opted out of everything; NONE),
`EffectiveDate` (last updated) and `CreationDate` (ISO 8601), `Attributes` and
`User.UserAttributes` (names to lists of strings), `Metrics` (names to numbers), `User.UserId`,
`Demographic.Timezone` (a tz database name), `Location.Country` (ISO 3166-1 alpha-2), and more
that fanmail does not use (Id, RequestId, CohortId, other Demographic and Location fields).

Every line that holds a record is accounted for exactly once (blank lines are not records, as
in every list file fanmail reads):

- rejected, with why: not JSON, not an object, no or a bad address, a documented field of the
  wrong JSON type (the file is not an export there), an OptOut or EndpointStatus Pinpoint does
  not write;
- skipped, with why: another channel (SMS, APNS, ...: fanmail sends email only; EMAIL in any
  case is email); an address
  whose every endpoint is INACTIVE (Pinpoint did not send to it either);
- imported: the first line of an address (a person);
- merged: a later line of the same address, folded into that person.

Merging a person's endpoints (one address, however many devices or duplicates):

- attributes: per attribute, the endpoint with the newest EffectiveDate that has it wins (no
  date counts as oldest; a tie goes to the later line);
- opted out if any endpoint says OptOut ALL: an opt-out is consent withdrawn, while NONE is what
  every new endpoint gets by default, so a newer NONE from another device is no re-opt-in;
- signed up at the earliest CreationDate (else EffectiveDate) of any of them.

Flattening: a list of strings becomes one value, its non-empty items joined with ", " (reads
well in a template; `contains` finds an item -- but an item that itself holds ", " cannot be
told apart). Names become fanmail attribute names (domain/attributes.py): NFKC-normalised, runs
of other characters replaced by "_", trimmed to 64 characters; a name starting with a digit or
one fanmail reserves gets the prefix `pinpoint_`. A metric becomes an attribute of its name
too, its number as text. Built-in fields come first (`timezone`, `country`, `user_id`), then
User.UserAttributes, then Attributes, then Metrics: when two names become one,
the first keeps it and the export's notes say which. A timezone that is not an IANA zone
(localtime.canonical_zone, which also fixes its case) is dropped (issue 23's local-time sends
would fall back for it anyway) and said in the person's notes, as is any value that breaks
fanmail's attribute limits. A value of the right JSON type that cannot be used (an odd date, an
empty list) is dropped with a note: the line still counts. The job's notes carry the people's
(services/import_pinpoint.py), naming line and address.

The whole file is read before people are known (a person's endpoints can be anywhere in it);
memory grows with the number of addresses, not lines.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fanmail.domain.addresses import normalise_email
from fanmail.domain.attributes import ATTRIBUTES, MAX_NAME_CHARS, RESERVED
from fanmail.domain.errors import InvalidInput
from fanmail.domain.list_files import Row, read_rows
from fanmail.domain.localtime import canonical_zone
from fanmail.domain.model import SubscriberStatus

PREFIX = "pinpoint_"
MAX_PERSON_NOTES = 20
MAX_EXPORT_NOTES = 100


class Outcome(StrEnum):
    IMPORTED = "imported"
    MERGED = "merged"
    SKIPPED = "skipped"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class LineReport:
    line: int
    outcome: Outcome
    reason: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    """One subscriber to import: what an importer writes, row by row."""

    email: str
    unsubscribed: bool
    attributes: Mapping[str, str]
    signed_up_at: float | None
    line: int
    """The line imported; `lines` holds it and every line merged into it."""
    lines: tuple[int, ...]
    opt_out_line: int | None = None
    """The first line that said OptOut ALL: for the consent history's imported opt-out."""
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> SubscriberStatus:
        return SubscriberStatus.UNSUBSCRIBED if self.unsubscribed else SubscriberStatus.SUBSCRIBED


@dataclass(frozen=True, slots=True)
class PinpointExport:
    people: tuple[Person, ...]
    lines: tuple[LineReport, ...]
    """One per record line, in line order."""
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        tally = Counter(report.outcome.value for report in self.lines)
        return {
            "lines": len(self.lines),
            **{outcome.value: tally[outcome.value] for outcome in Outcome},
            "people": len(self.people),
            "unsubscribed": sum(person.unsubscribed for person in self.people),
        }

    def skipped_because(self) -> dict[str, int]:
        """Skipped lines per reason ("channel SMS: fanmail sends email only": 3)."""
        return dict(Counter(r.reason for r in self.lines if r.outcome is Outcome.SKIPPED))


@dataclass(frozen=True, slots=True)
class _Endpoint:
    line: int
    email: str
    active: bool
    opted_out: bool
    effective_at: float | None
    created_at: float | None
    values: dict[str, str]
    notes: tuple[str, ...]


class _Skip(Exception):
    """A line that is fine but not for fanmail (another channel)."""


@dataclass(slots=True)
class _Notes:
    items: list[str] = field(default_factory=list)
    limit: int = MAX_PERSON_NOTES

    def add(self, note: str) -> None:
        if note not in self.items and len(self.items) < self.limit:
            self.items.append(note)


def read_export_file(chunks: Iterable[bytes]) -> PinpointExport:
    """An export file as bytes (an S3 object's body, a local file read in chunks)."""
    _, _, rows = read_rows(chunks, "jsonl")
    return read_export(rows)


def read_export(rows: Iterable[Row]) -> PinpointExport:
    """Every row of a JSON-lines export (domain/list_files.py reads them), accounted for."""
    reports: list[LineReport] = []
    by_address: dict[str, list[_Endpoint]] = {}
    names = _NameMap()
    for row in rows:
        if row.fields is None:
            reports.append(LineReport(row.line, Outcome.REJECTED, row.error or "unreadable"))
            continue
        try:
            endpoint = _endpoint(row.line, row.fields, names)
        except _Skip as skip:
            reports.append(LineReport(row.line, Outcome.SKIPPED, str(skip)))
        except InvalidInput as exc:
            reports.append(LineReport(row.line, Outcome.REJECTED, str(exc)))
        else:
            by_address.setdefault(endpoint.email, []).append(endpoint)
    people: list[Person] = []
    for endpoints in by_address.values():
        person = _person(endpoints)
        reports.extend(_reports(endpoints, person))
        if person is not None:
            people.append(person)
    reports.sort(key=lambda report: report.line)
    return PinpointExport(tuple(people), tuple(reports), tuple(names.notes.items))


def _reports(endpoints: list[_Endpoint], person: Person | None) -> list[LineReport]:
    if person is None:
        why = "INACTIVE, as is every endpoint of this address: Pinpoint did not send to it"
        return [LineReport(e.line, Outcome.SKIPPED, why, e.email) for e in endpoints]
    return [
        LineReport(e.line, Outcome.IMPORTED, "", e.email)
        if e.line == person.line
        else LineReport(e.line, Outcome.MERGED, f"merged into line {person.line}", e.email)
        for e in endpoints
    ]


def _person(endpoints: list[_Endpoint]) -> Person | None:
    if not any(endpoint.active for endpoint in endpoints):
        return None
    notes = _Notes()
    values: dict[str, str] = {}
    for endpoint in sorted(endpoints, key=lambda e: (_oldest_first(e.effective_at), e.line)):
        values.update(endpoint.values)
        for note in endpoint.notes:
            notes.add(note)
    opted_out = [endpoint.line for endpoint in endpoints if endpoint.opted_out]
    times = [e.effective_at if e.created_at is None else e.created_at for e in endpoints]
    known = [t for t in times if t is not None]
    return Person(
        email=endpoints[0].email,
        unsubscribed=bool(opted_out),
        attributes=_within_limits(values, notes),
        signed_up_at=min(known) if known else None,
        line=endpoints[0].line,
        lines=tuple(endpoint.line for endpoint in endpoints),
        opt_out_line=opted_out[0] if opted_out else None,
        notes=tuple(notes.items),
    )


def _oldest_first(at: float | None) -> float:
    return -math.inf if at is None else at


def _within_limits(values: dict[str, str], notes: _Notes) -> dict[str, str]:
    """fanmail's attribute limits, keeping names in order and saying what did not fit."""
    kept: dict[str, str] = {}
    total = 0
    for name in sorted(values):
        value = values[name]
        if "\x00" in value:
            notes.add(f"attribute {name!r} dropped: it holds a NUL character")
        elif len(value) > ATTRIBUTES.chars:
            notes.add(f"attribute {name!r} dropped: over {ATTRIBUTES.chars} characters")
        elif len(kept) == ATTRIBUTES.count:
            notes.add(f"attribute {name!r} dropped: over {ATTRIBUTES.count} attributes")
        elif total + len(name) + len(value.encode()) > ATTRIBUTES.total:
            notes.add(f"attribute {name!r} dropped: over {ATTRIBUTES.total} bytes in all")
        else:
            kept[name] = value
            total += len(name) + len(value.encode())
    return kept


def _endpoint(line: int, fields: Mapping[str, Any], names: _NameMap) -> _Endpoint:
    channel = _field(fields, "ChannelType", str)
    if channel is None:
        raise InvalidInput("no ChannelType")
    if channel.upper() != "EMAIL":  # Pinpoint writes upper case; "email" means it too
        shown = channel if channel.isalnum() and len(channel) <= 40 else repr(channel[:40])
        raise _Skip(f"channel {shown}: fanmail sends email only")
    address = _field(fields, "Address", str)
    if not address or not address.strip():
        raise InvalidInput("no Address")
    email = normalise_email(address.strip(), what="Address")
    status = _choice(fields, "EndpointStatus", ("ACTIVE", "INACTIVE"), "ACTIVE")
    opt_out = _choice(fields, "OptOut", ("ALL", "NONE"), "NONE")
    notes = _Notes()
    user = _field(fields, "User", dict) or {}
    custom = [
        *_string_lists(user, "UserAttributes", "User.UserAttributes", notes),
        *_string_lists(fields, "Attributes", "Attributes", notes),
        *_metrics(fields),
    ]
    values = names.flatten(_builtins(fields, user, notes), custom, notes)
    return _Endpoint(
        line=line,
        email=email,
        active=status == "ACTIVE",
        opted_out=opt_out == "ALL",
        effective_at=_time(fields, "EffectiveDate", notes),
        created_at=_time(fields, "CreationDate", notes),
        values=values,
        notes=tuple(notes.items),
    )


def _field(
    data: Mapping[str, Any], name: str, kind: type[str] | type[dict[str, object]], where: str = ""
) -> Any:
    """A documented field of the documented JSON type, or None when it is absent or null."""
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        expected = "a string" if kind is str else "an object"
        raise InvalidInput(f"{where or name} is {_json_kind(value)}, not {expected}")
    return value


def _json_kind(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    return names.get(type(value)) or ("a list" if isinstance(value, list) else "an object")


def _choice(fields: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _field(fields, name, str)
    if value is None:
        return default
    if value not in allowed:
        raise InvalidInput(f"{name} {value[:40]!r} is not {' or '.join(allowed)}")
    return str(value)


def _time(fields: Mapping[str, Any], name: str, notes: _Notes) -> float | None:
    """ISO 8601; without an offset it is taken as UTC (Pinpoint writes Z)."""
    value = _field(fields, name, str)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        notes.add(f"{name} {value[:40]!r} is not an ISO 8601 time: ignored")
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _builtins(
    fields: Mapping[str, Any], user: Mapping[str, Any], notes: _Notes
) -> list[tuple[str, str, str]]:
    demographic = _field(fields, "Demographic", dict) or {}
    location = _field(fields, "Location", dict) or {}
    zone = _field(demographic, "Timezone", str, "Demographic.Timezone")
    country = _field(location, "Country", str, "Location.Country")
    user_id = _field(user, "UserId", str, "User.UserId")
    found: list[tuple[str, str, str]] = []
    if zone and zone.strip():
        canonical = canonical_zone(zone)
        if canonical:
            found.append(("timezone", canonical, "Demographic.Timezone"))
        else:
            notes.add(f"timezone {zone[:40]!r} dropped: not an IANA time zone")
    if country and country.strip():
        code = country.strip()
        code = code.upper() if len(code) == 2 and code.isascii() and code.isalpha() else code
        found.append(("country", code, "Location.Country"))
    if user_id and user_id.strip():
        found.append(("user_id", user_id.strip(), "User.UserId"))
    return found


def _string_lists(
    data: Mapping[str, Any], name: str, where: str, notes: _Notes
) -> list[tuple[str, str, str]]:
    """(raw name, value, source) per attribute, by name; lists of strings joined with ", "."""
    attributes = _field(data, name, dict, where) or {}
    found: list[tuple[str, str, str]] = []
    for raw, items in sorted(attributes.items()):
        if not isinstance(items, list):
            raise InvalidInput(f"{where}[{raw[:40]!r}] is {_json_kind(items)}, not a list")
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise InvalidInput(
                    f"{where}[{raw[:40]!r}][{i}] is {_json_kind(item)}, not a string"
                )
        value = ", ".join(item for item in items if item)
        if value:
            found.append((raw, value, where))
    return found


def _metrics(fields: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(raw name, value, source) per metric, by name: a number written as segments compare it
    (3.0 as "3", 2.5 as "2.5"); Pinpoint segmented on them as on attributes."""
    metrics = _field(fields, "Metrics", dict) or {}
    found: list[tuple[str, str, str]] = []
    for raw, number in sorted(metrics.items()):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidInput(f"Metrics[{raw[:40]!r}] is {_json_kind(number)}, not a number")
        if float(number).is_integer() and abs(number) < 1e15:  # finite: the reader says so
            found.append((raw, str(int(number)), "Metrics"))
        else:
            found.append((raw, repr(float(number)), "Metrics"))
    return found


def attribute_name(raw: str) -> str | None:
    """A Pinpoint attribute name as a fanmail one, or None when nothing usable is left."""
    name = re.sub(r"\W+", "_", unicodedata.normalize("NFKC", raw)).strip("_")
    name = "".join(ch for ch in name if ("a" + ch).isidentifier())
    if not name:
        return None
    if name[0].isdigit() or name in RESERVED:
        name = PREFIX + name
    return name[:MAX_NAME_CHARS] if name[:MAX_NAME_CHARS].isidentifier() else None


@dataclass(slots=True)
class _NameMap:
    """Pinpoint names as fanmail names, remembering the first source of each fanmail name so
    that two sources becoming one name are reported once for the export."""

    first: dict[str, str] = field(default_factory=dict)
    notes: _Notes = field(default_factory=lambda: _Notes(limit=MAX_EXPORT_NOTES))

    def flatten(
        self,
        builtins: list[tuple[str, str, str]],
        custom: list[tuple[str, str, str]],
        notes: _Notes,
    ) -> dict[str, str]:
        """Built-in fields first, then custom attributes in the order given (User's, then the
        endpoint's, each by name): the first to claim a name keeps it."""
        values: dict[str, str] = {}
        for name, value, where in builtins:
            self._place(name, where, value, values)
        for raw, value, where in custom:
            usable = attribute_name(raw)
            if usable is None:
                notes.add(f"{where} {raw[:40]!r} dropped: no usable name is left of it")
            else:
                self._place(usable, f"{where} {raw[:40]!r}", value, values)
        return values

    def _place(self, name: str, source: str, value: str, values: dict[str, str]) -> None:
        earlier = self.first.setdefault(name, source)
        if earlier != source:
            self.notes.add(
                f"{earlier} and {source} both become {name!r}: an endpoint with both keeps "
                "the built-in field, else User.UserAttributes, else the name first in order"
            )
        values.setdefault(name, value)
