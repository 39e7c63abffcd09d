"""Reading typed fields out of JSON objects, with an error that names the bad field.

The journal, run.json and a worker's shipped records are JSON; the record types in
harness.results.records read them through these getters once, at the boundary. A field of
the wrong type is a `RecordError` ("test record: duration is a str ('1s'), not a number");
readers that know the file add where it came from.

`JsonObject` is a JSON object kept as JSON: free-form by nature (what a test adds to its
record, a kcidb document being built), never a stand-in for a record type.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.errors import UserError

JsonObject = dict[str, object]
JsonMap = Mapping[str, object]
JsonValue = object                  # any JSON value (free-form lists: a test's per_scan)


class RecordError(UserError):
    """A JSON record that does not have the shape its type needs."""


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a str", bool: "a bool", int: "an int",
             float: "a float", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def bad(where: str, key: str, value: object, want: str) -> RecordError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return RecordError(f"{where}: {key} is {_kind(value)} ({shown}), not {want}", "",
                       "restore the file, or delete the record")


def need(obj: JsonMap, key: str, where: str) -> object:
    if key not in obj:
        raise RecordError(f"{where}: no {key!r}", f"keys: {', '.join(sorted(obj)) or 'none'}",
                          "restore the file, or delete the record")
    return obj[key]


def required_text(obj: JsonMap, key: str, where: str) -> str:
    value = need(obj, key, where)
    if not isinstance(value, str):
        raise bad(where, key, value, "a string")
    return value


def text(obj: JsonMap, key: str, where: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad(where, key, value, "a string")
    return value


def opt_text(obj: JsonMap, key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise bad(where, key, value, "a string")
    return value


def opt_int(obj: JsonMap, key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise bad(where, key, value, "an integer")
    return value


def opt_number(obj: JsonMap, key: str, where: str) -> float | None:
    """An int or float, kept as JSON gave it (so it serialises back byte for byte)."""
    value = obj.get(key)
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise bad(where, key, value, "a number")
    return value


def opt_bool(obj: JsonMap, key: str, where: str) -> bool | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise bad(where, key, value, "true or false")
    return value


def opt_object(obj: JsonMap, key: str, where: str) -> JsonObject | None:
    value = obj.get(key)
    if value is None:
        return None
    return as_object(value, where, key)


def as_object(value: object, where: str, key: str) -> JsonObject:
    if not isinstance(value, dict):
        raise bad(where, key, value, "an object")
    return {str(k): v for k, v in value.items()}


def as_list(value: object, where: str, key: str) -> list[object]:
    if not isinstance(value, list):
        raise bad(where, key, value, "a list")
    return value


def strings(value: object, where: str, key: str) -> tuple[str, ...]:
    items = as_list(value, where, key)
    if not all(isinstance(v, str) for v in items):
        raise bad(where, key, value, "a list of strings")
    return tuple(str(v) for v in items)


def int_map(value: object, where: str, key: str) -> dict[str, int]:
    """{name: integer}: counters, a census (order -> pages)."""
    out: dict[str, int] = {}
    for name, v in as_object(value, where, key).items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise bad(where, f"{key}.{name}", v, "an integer")
        out[name] = v
    return out


def str_map(value: object, where: str, key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, v in as_object(value, where, key).items():
        if not isinstance(v, str):
            raise bad(where, f"{key}.{name}", v, "a string")
        out[name] = v
    return out



def number_map(value: object, where: str, key: str) -> dict[str, float]:
    """{name: number}: durations, a cluster cell's timing."""
    out: dict[str, float] = {}
    for name, v in as_object(value, where, key).items():
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise bad(where, f"{key}.{name}", v, "a number")
        out[name] = v
    return out


def numbers(value: object, where: str, key: str) -> tuple[float, ...]:
    items = as_list(value, where, key)
    for v in items:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise bad(where, key, value, "a list of numbers")
    return tuple(v for v in items if isinstance(v, (int, float)))
