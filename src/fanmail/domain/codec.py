"""Between typed records and JSON, derived from the dataclasses' own field types: one codec for
the campaign record's documents, the Lambda payloads between fan-out nodes, the trigger's run
messages and the API's views of them.

Types it knows: str, int, float, bool, None and `X | None`; enums (by value); nested
dataclasses (as objects); `tuple[X, ...]`, `tuple[X, Y]` and `list[X]` (as arrays);
`Mapping[K, V]` with str or enum keys (as objects). A field may say how it travels with
`metadata=wire(...)`: under another name, flattened into its parent, or through a pair of
functions of its own. A class with `to_json`/`from_json` encodes itself.

Encoding leaves out fields that are None. Decoding checks every value against its type and
names the path of the first that does not fit (`sender event: recipients[3].e: expected a
string, got int`); a field left out takes its default, an unknown one is ignored (a record
written by an older or newer version still reads).
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar, Union, get_args, get_origin, get_type_hints

from fanmail.domain.errors import InvalidInput

Json: TypeAlias = "str | int | float | bool | list[Json] | dict[str, Json] | None"
JsonObject: TypeAlias = "dict[str, Json]"

T = TypeVar("T")
Decoder = Callable[[object, str], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Wire:
    """How one field travels, where it differs from the plain rule."""

    name: str | None = None
    flatten: bool = False
    encode: Callable[[Any], Json] | None = None
    decode: Callable[[Json], Any] | None = None
    required: bool = False


def wire(
    *,
    name: str | None = None,
    flatten: bool = False,
    encode: Callable[[Any], Json] | None = None,
    decode: Callable[[Json], Any] | None = None,
    required: bool = False,
) -> dict[str, Wire]:
    """Field metadata: `field(default=..., metadata=wire(name="queue_z", ...))`; `required`:
    a reader must find the field even though a writer may leave it at its default."""
    return {"wire": Wire(name, flatten, encode, decode, required)}


class Mismatch(Exception):
    """A value that does not fit its type, at `path` (raised inside the codec only)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# -- encoding ---------------------------------------------------------------------------------
def encode(value: object) -> Json:
    """The JSON form of a typed value."""
    if isinstance(value, enum.Enum):
        encoded: Json = value.value
        return encoded
    if value is None or isinstance(value, str | bool | int | float):
        return value
    to_json = getattr(value, "to_json", None)
    if to_json is not None:
        own: Json = to_json()
        return own
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode_fields(value)
    if isinstance(value, Mapping):
        return {_key(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset):
        return [encode(v) for v in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def encode_fields(record: object) -> JsonObject:
    """A dataclass as a JSON object, its own `to_json` aside (for classes that add to it)."""
    encoded: JsonObject = {}
    for plan in _plan(type(record)):
        value = getattr(record, plan.field)
        if value is None:
            continue
        if plan.wire.encode is not None:
            encoded[plan.key] = plan.wire.encode(value)
        elif plan.wire.flatten:
            inner = encode(value)
            assert isinstance(inner, dict), f"{plan.field} cannot be flattened"
            encoded.update(inner)
        else:
            encoded[plan.key] = encode(value)
    return encoded


def _key(key: object) -> str:
    if isinstance(key, enum.Enum):
        return str(key.value)
    if isinstance(key, str):
        return key
    raise TypeError(f"object keys must be strings, got {type(key).__name__}")


# -- decoding ---------------------------------------------------------------------------------
def decode(kind: type[T], data: object, where: str) -> T:
    """`data` (parsed JSON) as a `kind`; InvalidInput naming `where` and the path otherwise."""
    try:
        decoded: T = decoder(kind)(data, "")
    except Mismatch as exc:
        place = f"{where}: {exc.path.lstrip('.')}" if exc.path else where
        raise InvalidInput(f"{place}: {exc.message}") from None
    return decoded


def decode_fields(kind: type[T], data: object, path: str) -> T:
    """A dataclass from its JSON object, its own `from_json` aside."""
    if not isinstance(data, Mapping):
        raise Mismatch(path, f"expected an object, got {_name(data)}")
    values: dict[str, object] = {}
    for plan in _plan(kind):
        where = f"{path}.{plan.key}"
        if plan.wire.flatten:
            values[plan.field] = plan.decoder(data, path)
            continue
        if plan.key not in data or (data[plan.key] is None and plan.optional):
            if plan.optional and not plan.has_default:
                values[plan.field] = None  # left out because it was None
            elif plan.required:
                raise Mismatch(where, "missing")
            continue
        raw = data[plan.key]
        if plan.wire.decode is not None:
            try:
                values[plan.field] = plan.wire.decode(raw)
            except (ValueError, TypeError) as exc:
                raise Mismatch(where, str(exc)) from None
        else:
            values[plan.field] = plan.decoder(raw, where)
    try:
        return kind(**values)
    except (ValueError, TypeError) as exc:  # a type's own checks (__post_init__)
        raise Mismatch(path, str(exc)) from None


_decoders: dict[object, Decoder] = {}
_lock = threading.Lock()


def decoder(kind: object) -> Decoder:
    """The decoder of a type, built once."""
    found = _decoders.get(kind)
    if found is None:
        found = _build(kind)
        with _lock:
            _decoders[kind] = found
    return found


def _build(kind: object) -> Decoder:
    if kind is Any or kind is object:
        return lambda data, path: data
    if kind is type(None):
        return _none
    if kind in _SCALARS:
        return _SCALARS[kind]
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        return _optional(get_args(kind))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _enum(kind)
    if isinstance(kind, type) and hasattr(kind, "from_json"):
        own: Decoder = kind.from_json
        return own
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return lambda data, path: decode_fields(kind, data, path)
    if origin is tuple:
        return _tuple(get_args(kind))
    if origin in (list, frozenset):
        item = decoder(get_args(kind)[0])
        wrap = list if origin is list else frozenset
        return lambda data, path: wrap(_items(data, path, item))
    if origin in (dict, Mapping) or origin is getattr(Mapping, "__origin__", None):
        key_type, value_type = get_args(kind)
        return _mapping(decoder(key_type), decoder(value_type))
    raise TypeError(f"the codec knows no type {kind!r}")


def _name(data: object) -> str:
    return "null" if data is None else type(data).__name__


def _none(data: object, path: str) -> None:
    if data is not None:
        raise Mismatch(path, f"expected null, got {_name(data)}")


def _str(data: object, path: str) -> str:
    if not isinstance(data, str):
        raise Mismatch(path, f"expected a string, got {_name(data)}")
    return data


def _int(data: object, path: str) -> int:
    if not isinstance(data, int) or isinstance(data, bool):
        raise Mismatch(path, f"expected an integer, got {_name(data)}")
    return data


def _float(data: object, path: str) -> float:
    if not isinstance(data, int | float) or isinstance(data, bool):
        raise Mismatch(path, f"expected a number, got {_name(data)}")
    return float(data)


def _bool(data: object, path: str) -> bool:
    if not isinstance(data, bool):
        raise Mismatch(path, f"expected true or false, got {_name(data)}")
    return data


_SCALARS: dict[object, Decoder] = {str: _str, int: _int, float: _float, bool: _bool}


def _optional(members: tuple[object, ...]) -> Decoder:
    others = [m for m in members if m is not type(None)]
    if len(others) != 1:
        raise TypeError(f"the codec knows only `X | None` unions, not {members!r}")
    inner = decoder(others[0])
    return lambda data, path: None if data is None else inner(data, path)


def _enum(kind: type[enum.Enum]) -> Decoder:
    def read(data: object, path: str) -> enum.Enum:
        try:
            return kind(data)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in kind)
            raise Mismatch(path, f"expected one of {allowed}, got {data!r}") from None

    return read


def _items(data: object, path: str, item: Decoder) -> list[Any]:
    if not isinstance(data, list | tuple):
        raise Mismatch(path, f"expected an array, got {_name(data)}")
    return [item(value, f"{path}[{index}]") for index, value in enumerate(data)]


def _tuple(args: tuple[object, ...]) -> Decoder:
    if len(args) == 2 and args[1] is Ellipsis:
        item = decoder(args[0])
        return lambda data, path: tuple(_items(data, path, item))
    parts = [decoder(arg) for arg in args]

    def read(data: object, path: str) -> tuple[Any, ...]:
        if not isinstance(data, list | tuple) or len(data) != len(parts):
            raise Mismatch(path, f"expected an array of {len(parts)}, got {_name(data)}")
        return tuple(
            part(v, f"{path}[{i}]") for i, (part, v) in enumerate(zip(parts, data, strict=True))
        )

    return read


def _mapping(key: Decoder, value: Decoder) -> Decoder:
    def read(data: object, path: str) -> dict[Any, Any]:
        if not isinstance(data, Mapping):
            raise Mismatch(path, f"expected an object, got {_name(data)}")
        return {key(k, f"{path}.{k}"): value(v, f"{path}.{k}") for k, v in data.items()}

    return read


# -- one plan per dataclass -------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class _FieldPlan:
    field: str
    key: str
    wire: Wire
    required: bool
    optional: bool
    has_default: bool
    decoder: Decoder


_plans: dict[type, tuple[_FieldPlan, ...]] = {}


def _plan(kind: type) -> tuple[_FieldPlan, ...]:
    found = _plans.get(kind)
    if found is not None:
        return found
    hints = get_type_hints(kind)
    plans = []
    for f in dataclasses.fields(kind):
        meta = f.metadata.get("wire", Wire())
        hint = hints[f.name]
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
        inner = decoder(hint)
        required = missing or meta.required
        plans.append(
            _FieldPlan(f.name, meta.name or f.name, meta, required, optional, not missing, inner)
        )
    found = tuple(plans)
    with _lock:
        _plans[kind] = found
    return found
