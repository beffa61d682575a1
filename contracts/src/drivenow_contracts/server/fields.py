"""Input fields and cleaners every DriveNow API uses, so hostile text and ids are refused the same way.

Each field accepts exactly what the OpenAPI document says it accepts, no more: the contract fuzzing
(schemathesis' negative_data_rejection / positive_data_acceptance checks) holds the services to that. DRF's own
fields are lenient in ways the schema cannot show — a CharField takes 12 for "12", an IntegerField takes "2020",
a UUIDField takes 32 bare hex digits or `urn:uuid:…`, a DateTimeField takes a date without a time or offset.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from django.core.validators import MaxValueValidator, RegexValidator
from rest_framework import serializers

# Documented as the `format` of free-text fields; the fuzz tests teach schemathesis to generate it.
PLAIN_TEXT_FORMAT = "plain-text"
PLAIN_TEXT_DESCRIPTION = (
    "Printable text: no control or invisible characters (Unicode categories Cc, Cf, Cs, Co, Cn), not blank; "
    "stored NFC-normalised and trimmed."
)
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}  # control, format, surrogate, private use, unassigned
_NOT_IN_AN_ADDRESS = _INVISIBLE | {"Zs", "Zl", "Zp"}
# A UUID as API.md spells it (8-4-4-4-12 hex digits, either case). Every pattern here is used with fullmatch():
# Python's `$` also matches before a final newline, and `\d` also matches full-width and other scripts' digits.
UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(UUID_PATTERN)
# RFC 3339 (API.md: "timestamps ISO 8601 with offset").
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_rfc3339(value: object) -> datetime | None:
    """An RFC 3339 timestamp with its offset (the whole value), as an aware datetime in UTC; None for anything else."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        # In UTC: PostgreSQL takes offsets up to ±15:59 only, RFC 3339 (and Python) up to ±23:59.
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):  # a 30th of February, an hour 24, a year past 9999 once in UTC
        return None


def parse_uuid(value: object) -> uuid.UUID | None:
    """The UUID `value` spells in the 8-4-4-4-12 form, or None. uuid.UUID() alone would also take braces,
    `urn:uuid:`, bare hex and (raising ValueError) anything else."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        return None
    return uuid.UUID(value)


class FullMatchValidator(RegexValidator):
    """A RegexValidator whose `^…$` means the whole value, as in the schema's (ECMAScript) pattern. Python's `$`
    also matches before a trailing newline, so Django's RegexValidator lets "+44 20\n" through `^[0-9 +]+$`."""

    def __call__(self, value: object) -> None:
        if not isinstance(value, str) or not cast("re.Pattern[str]", self.regex).fullmatch(value):
            raise serializers.ValidationError(self.message, code=self.code)


def clean_text(value: str, *, max_length: int) -> str:
    """NFC-normalised, trimmed, non-blank text with no control or invisible characters, within the column.

    Control characters are refused wherever they are, ends included: str.strip() would quietly drop a trailing
    NEL (U+0085) or file separator (U+001C) and store something else than what was sent."""
    value = unicodedata.normalize("NFC", value)
    if any(unicodedata.category(ch) in _INVISIBLE for ch in value):
        raise serializers.ValidationError("Control and invisible characters are not allowed.")
    value = value.strip()
    if not value:
        raise serializers.ValidationError("This field may not be blank.")
    # NFC can lengthen text (U+0958 becomes two code points): the column's limit applies to what is stored.
    if len(value) > max_length:
        raise serializers.ValidationError(f"Ensure this field has no more than {max_length} characters.")
    return value


class StringOnlyMixin:
    """JSON strings only: DRF's CharField would take the number 12 as "12"."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(StringOnlyMixin, serializers.CharField):
    """A CharField that takes strings only and, by default, checks what was sent (no silent trimming)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class StrictEmailField(StringOnlyMixin, serializers.EmailField):
    """An email address as sent. Django's EmailValidator takes any character from U+00A1 up in the domain (for
    internationalised names), so a zero-width space, a BOM or a line separator would pass, and service-side
    trimming would quietly drop some of them: any space or invisible character is refused."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and any(unicodedata.category(ch) in _NOT_IN_AN_ADDRESS for ch in data):
            self.fail("invalid")
        return super().to_internal_value(data)


class PlainTextField(StringOnlyMixin, serializers.CharField):
    """Free text (a car model, a person's name): at most `max_length` characters as sent, then `clean_text`.
    Documented as `format: plain-text` (see PLAIN_TEXT_DESCRIPTION)."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data: object) -> str:
        value = str(super().to_internal_value(data))
        assert self.max_length is not None
        if len(value) > self.max_length:  # as sent, before trimming: the schema's maxLength
            self.fail("max_length", max_length=self.max_length)
        return clean_text(value, max_length=self.max_length)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not "2020", not true. `max_value` may be a callable (a bound that moves with the date),
    read when validating and when the schema is made."""

    def __init__(self, *, max_value: int | Callable[[], int] | None = None, **kwargs: Any) -> None:
        self._upper = max_value
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, MaxValueValidator)]

    @property
    def max_value(self) -> int | None:
        upper = getattr(self, "_upper", None)
        return upper() if callable(upper) else upper

    @max_value.setter
    def max_value(self, value: int | None) -> None:  # DRF's __init__ assigns it; the bound given here wins
        pass

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        value = int(super().to_internal_value(data))
        upper = self.max_value
        if upper is not None and value > upper:
            self.fail("max_value", max_value=upper)
        return value


class UUIDStringField(serializers.UUIDField):
    """An id as API.md spells it: a UUID string in its usual 8-4-4-4-12 form. DRF's UUIDField also takes integers
    (and so booleans) as UUID(int=…), which would turn `"car_id": true` into a request for car
    00000000-…-000000000001, and bare hex or `urn:uuid:` spellings the schema's `format: uuid` does not allow."""

    def to_internal_value(self, data: object) -> uuid.UUID:
        parsed = parse_uuid(data) if isinstance(data, str) else None
        if parsed is None:
            self.fail("invalid", value=data)
        return parsed


class StrictDateTimeField(serializers.DateTimeField):
    """An RFC 3339 timestamp with its offset (`2030-01-01T10:00:00+01:00`); DRF would also take a bare date or a
    time without an offset and guess the zone."""

    def to_internal_value(self, value: object) -> Any:
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DDThh:mm:ss[.uuuuuu]±hh:mm (or Z)")
        return super().to_internal_value(value)


class RefusedFieldsMixin:
    """For a request body that must not carry fields the service sets itself (`id`, `status`, timestamps): each one
    sent is a 400 `invalid` naming it, rather than silently ignored — a client that sends `status` believes it
    changes something. The schema says so too (see openapi.RefusedFieldsExtension): such a property is `not: {}`.

    List it first among the bases; set `refused_fields`."""

    refused_fields: frozenset[str] = frozenset()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)  # type: ignore[misc]
        data = self.initial_data  # type: ignore[attr-defined]
        refused = sorted(set(data) & self.refused_fields) if isinstance(data, dict) else []
        if refused:
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in refused})
        return attrs


# A branch's or a vehicle class's code, as every body, filter and answer of both services names it ("TLV-AIR",
# "ECONOMY"): inventory owns them, booking names them by the same spelling.
CODE_PATTERN = r"^[A-Z0-9](?:[A-Z0-9-]{0,30}[A-Z0-9])?$"
CODE_INPUT = FullMatchValidator(CODE_PATTERN, "A code is 1–32 capital letters, digits and inner dashes: TLV-AIR.")
# The highest odometer reading either service takes (a car's odometer in km).
ODOMETER_MAX_KM = 9_999_999


def code_field(**kwargs: Any) -> StrictCharField:
    """A branch or class code in a body or a query."""
    return StrictCharField(max_length=32, validators=[CODE_INPUT], **kwargs)
