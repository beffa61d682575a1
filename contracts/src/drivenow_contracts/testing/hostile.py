"""Hostile strings for every JSON string field a service writes, and what its OpenAPI document says of each.

The fuzz suites (fuzzing.py) draw ids from schemathesis, which only ever sends `format: uuid` as `str(uuid.UUID(…))`
and, as a wrong value, random text or "": never a real id with a newline after it, a BOM before it, braces around
it. Such near misses are what slip past a Python `$`, `re.match`, `str.strip()` or `int()`. This module makes them
on purpose, for each string property of each JSON request body of the service's own schema (a new field is covered
without the test changing; a new endpoint with a JSON body fails it until the test gives a valid body for it), and
judges each the way the schema means it — ECMAScript patterns, where `$` ends the text; formats checked strictly —
so a test can hold the service to: refused by the schema → a 4xx problem and nothing stored; allowed → anything
but a 5xx, and any 4xx a problem.

    fields = string_fields(schema, bodies={("POST", "/api/v1/cars/"): {"model": "Kia EV6", "year": 2024}})
    field = fields[0]
    value = MUTATIONS["suffix LF"](field.base_value)
    response = client.generic(field.method, field.path, json_body(field.body_with(value)), content_type=…)
    problem = judge(field, value, response, stored_before=…, stored_after=…)  # None, or what is wrong
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonschema
from jsonschema import Draft4Validator

from drivenow_contracts.server.fields import PLAIN_TEXT_FORMAT, UUID_PATTERN

# Characters put before or after a valid value: line ends and spaces Python's `$`/`strip()`/`int()`/`UUID()`
# treat as nothing, C0/C1 controls, Unicode separators, invisible format characters, lone surrogates, private use,
# and escapes that are text only after someone decodes them.
AFFIXES: dict[str, str] = {
    "LF": "\n",
    "CRLF": "\r\n",
    "CR": "\r",
    "TAB": "\t",
    "VT": "\x0b",
    "FF": "\x0c",
    "space": " ",
    "NUL": "\x00",
    "file separator": "\x1c",
    "DEL": "\x7f",
    "NEL": "\x85",
    "NBSP": "\xa0",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "BOM": "\ufeff",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "right-to-left override": "\u202e",
    "ideographic space": "\u3000",
    "lone high surrogate": "\ud800",
    "lone low surrogate": "\udfff",
    "tag character": "\U000e0001",
    "private use": "\ue000",
    "noncharacter": "\uffff",
    "combining acute": "\u0301",
    "percent-encoded LF": "%0A",
    "backslash n": "\\n",
    "trailing dash": "-",
}

_FULL_WIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}
_FULL_WIDTH_DIGITS = {ord("0") + n: 0xFF10 + n for n in range(10)}
_ARABIC_INDIC_DIGITS = {ord("0") + n: 0x0660 + n for n in range(10)}
_CYRILLIC = str.maketrans("aceopxyABCEHKMOPTX", "асеорхуАВСЕНКМОРТХ")


def _inside(text: str, insert: str) -> str:
    return text[:1] + insert + text[1:]


# Whole-value rewrites: other spellings of the same thing, look-alike characters, lengths and blanks.
LOOK_ALIKES: dict[str, Callable[[str], str]] = {
    "upper case": str.upper,
    "lower case": str.lower,
    "full-width": lambda v: v.translate(_FULL_WIDTH),
    "full-width digits": lambda v: v.translate(_FULL_WIDTH_DIGITS),
    "Arabic-Indic digits": lambda v: v.translate(_ARABIC_INDIC_DIGITS),
    "Cyrillic look-alikes": lambda v: v.translate(_CYRILLIC),
    "NFKC ligature": lambda v: "\ufb01" + v,
    "urn:uuid: spelling": lambda v: "urn:uuid:" + v,
    "braces spelling": lambda v: "{" + v + "}",
    "bare hex": lambda v: v.replace("-", ""),
    "one character short": lambda v: v[:-1],
    "one character long": lambda v: v + v[-1:],
    "doubled": lambda v: v + v,
    "overlong": lambda v: v + "9" * 10_000,
    "empty": lambda v: "",
    "blank": lambda v: "   ",
    "newline only": lambda v: "\n",
    "NUL inside": lambda v: _inside(v, "\x00"),
    "lone surrogate inside": lambda v: _inside(v, "\udc80"),
    "line separator inside": lambda v: _inside(v, "\u2028"),
    "string null": lambda v: "null",
    "SQL quote": lambda v: v + "' OR '1'='1",
    "JSON-looking": lambda v: json.dumps({"v": v}),
    "percent-encoded": lambda v: "".join(f"%{b:02X}" for b in v.encode("utf-8", "surrogatepass")),
}


def _suffixed(value: str, *, affix: str) -> str:
    return value + affix


def _prefixed(value: str, *, affix: str) -> str:
    return affix + value


# Every single change, by name: "suffix LF", "prefix BOM", "upper case", …
MUTATIONS: dict[str, Callable[[str], str]] = {
    **{f"suffix {name}": functools.partial(_suffixed, affix=affix) for name, affix in AFFIXES.items()},
    **{f"prefix {name}": functools.partial(_prefixed, affix=affix) for name, affix in AFFIXES.items()},
    **LOOK_ALIKES,
}


@dataclass(frozen=True)
class StringField:
    """One string property of one JSON request body: where it goes, its schema, and a valid body to put it in."""

    method: str
    path: str  # as the schema writes it: /api/v1/cars/{id}/
    name: str
    property_schema: dict[str, Any]
    base_body: Mapping[str, Any]
    base_value: str

    @property
    def label(self) -> str:
        return f"{self.method} {self.path} {self.name}"

    def body_with(self, value: str) -> dict[str, Any]:
        return {**self.base_body, self.name: value}


def _resolve(document: Mapping[str, Any], schema: Any) -> Any:
    """The schema with every local `$ref` inlined (the document's are acyclic)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            target: Any = document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(document, target)
        return {key: _resolve(document, value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolve(document, item) for item in schema]
    return schema


def _holds_strings(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "string" or (
        isinstance(schema.get("enum"), list) and any(isinstance(v, str) for v in schema["enum"])
    ):
        return True
    return any(_holds_strings(sub) for key in ("anyOf", "allOf") for sub in schema.get(key, []))


def string_fields(
    document: Mapping[str, Any],
    *,
    bodies: Mapping[tuple[str, str], Mapping[str, Any]],
    values: Mapping[str, str] | None = None,
) -> list[StringField]:
    """Every string property of every JSON request body in `document`. `bodies` gives, per (METHOD, path), a body
    the service accepts; each field's valid value is taken from it, else from `values` (by field name), else made
    from the field's format or enum. An operation with a JSON body and no entry in `bodies` is an error: a new
    endpoint must not go untested."""
    fields: list[StringField] = []
    missing: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" not in content:
                continue
            key = (method.upper(), path)
            if key not in bodies:
                missing.append(f"{method.upper()} {path}")
                continue
            body_schema = _resolve(document, content["application/json"]["schema"])
            for name, prop in body_schema.get("properties", {}).items():
                if not _holds_strings(prop) or prop.get("readOnly"):
                    continue
                base = bodies[key].get(name, (values or {}).get(name)) or _valid_value(prop)
                if base is None:
                    missing.append(f"{method.upper()} {path} {name} (no valid value to start from)")
                    continue
                fields.append(StringField(method.upper(), path, name, prop, bodies[key], base))
    if missing:
        raise LookupError("give a valid body (or value) for: " + ", ".join(missing))
    return fields


def _valid_value(prop: Mapping[str, Any]) -> str | None:
    for candidate in [prop, *prop.get("anyOf", []), *prop.get("allOf", [])]:
        enum = [v for v in candidate.get("enum", []) if isinstance(v, str) and v]
        if enum:
            return enum[0]
        example = {
            "uuid": "550e8400-e29b-41d4-a716-446655440000",
            "date-time": "2099-01-01T10:00:00+00:00",
            "email": "someone@example.com",
            PLAIN_TEXT_FORMAT: "Plain text",
        }.get(candidate.get("format", ""))
        if example:
            return example
    return None


# -- the schema's verdict ------------------------------------------------------------------------------------------
_ECMA_DIFFERENT = re.compile(r"\\[dDsSwWbB]")


@functools.cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A schema `pattern` (ECMAScript, no flags) as a Python regex that means the same for `re.search`: `$` is the
    end of the text, not "the end or before a final newline". Constructs whose meaning differs in other ways
    (`.` and the `\\d \\s \\w \\b` classes) are refused, so a new pattern cannot be judged wrongly in silence."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "$":
            out.append(r"\Z")
        elif char == ".":
            raise ValueError(f"pattern {pattern!r}: '.' differs between ECMAScript and Python; extend ecma_pattern")
        else:
            out.append(char)
    if _ECMA_DIFFERENT.search(pattern):
        raise ValueError(
            f"pattern {pattern!r}: \\d, \\s, \\w or \\b differ between ECMAScript and Python; extend ecma_pattern"
        )
    return re.compile("".join(out))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterable[jsonschema.ValidationError]:
    if isinstance(instance, str) and not ecma_pattern(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}
_SPACES = {"Zs", "Zl", "Zp"}
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _categories(text: str) -> set[str]:
    return {unicodedata.category(ch) for ch in text}


def _is_date_time(text: str) -> bool:
    if not _RFC3339.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:  # 2030-02-30, 25:00, an offset of 24 hours or more
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("uuid")(lambda v: not isinstance(v, str) or re.fullmatch(UUID_PATTERN, v) is not None)
FORMATS.checks("date-time")(lambda v: not isinstance(v, str) or _is_date_time(v))
# Generous on purpose (a service may refuse more): one @ between two non-empty parts, no space or invisible character.
FORMATS.checks("email")(
    lambda v: (
        not isinstance(v, str)
        or (v.count("@") == 1 and all(v.split("@")) and not _categories(v) & (_INVISIBLE | _SPACES))
    )
)
FORMATS.checks(PLAIN_TEXT_FORMAT)(
    lambda v: not isinstance(v, str) or (bool(v.strip()) and not _categories(v) & _INVISIBLE)
)

_Validator = jsonschema.validators.extend(Draft4Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]


def schema_allows(property_schema: Mapping[str, Any], value: Any) -> bool:
    """Whether the (resolved) property schema accepts `value`, its formats checked strictly (FORMATS)."""
    return bool(_Validator(dict(property_schema), format_checker=FORMATS).is_valid(value))


def json_body(body: Mapping[str, Any]) -> bytes:
    """JSON with every non-ASCII character escaped, so a lone surrogate travels as `\\ud800` (as a client sends it)."""
    return json.dumps(body, ensure_ascii=True).encode()


def hostile_values(base: str) -> Any:
    """A hypothesis strategy of (what was done, value): one to three changes of `base` in a row, each a named
    mutation or drawn control/separator/invisible characters before or after it."""
    from hypothesis import strategies as st

    drawn = st.text(st.characters(categories=("Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp")), min_size=1, max_size=3)
    change = st.one_of(
        st.sampled_from(sorted(MUTATIONS)).map(lambda name: (name, MUTATIONS[name])),
        drawn.map(lambda text: (f"suffix {text!r}", lambda v, t=text: v + t)),
        drawn.map(lambda text: (f"prefix {text!r}", lambda v, t=text: t + v)),
    )

    def apply(changes: list[tuple[str, Callable[[str], str]]]) -> tuple[str, str]:
        value = base
        for _name, mutate in changes:
            value = mutate(value)
        return " then ".join(name for name, _ in changes), value

    return st.lists(change, min_size=1, max_size=3).map(apply)


def judge(field: StringField, value: str, response: Any, *, stored_before: object, stored_after: object) -> str | None:
    """What is wrong with the service's answer to `field` = `value` (a Django test client response), or None.

    Never a 5xx; every 4xx is problem+json with a `code`; a value the schema refuses gets a 4xx and stores nothing."""
    status = response.status_code
    where = f"{field.label} = {value[:80]!r}{'…' if len(value) > 80 else ''}"
    if status >= 500:
        return f"{where}: {status}"
    if 400 <= status < 500:
        body = json.loads(response.content) if response.get("Content-Type") == "application/problem+json" else None
        if not isinstance(body, dict) or not body.get("code"):
            return f"{where}: {status} without a problem+json code ({response.get('Content-Type')})"
    if schema_allows(field.property_schema, value):
        return None
    if not 400 <= status < 500:
        return f"{where}: {status}, yet the schema refuses it"
    if stored_after != stored_before:
        return f"{where}: refused with {status}, yet something was stored"
    return None
