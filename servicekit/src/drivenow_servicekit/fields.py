"""Input fields and cleaners every DriveNow API uses, so hostile text and ids are refused the same way."""
from __future__ import annotations

import unicodedata

from rest_framework import serializers


def clean_text(value: str, *, max_length: int) -> str:
    """NFC-normalised, trimmed, non-blank text with no control or invisible characters, within the column."""
    value = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in value):
        raise serializers.ValidationError("Control and invisible characters are not allowed.")
    if not value:
        raise serializers.ValidationError("This field may not be blank.")
    # NFC can lengthen text (U+0958 becomes two code points): the column's limit applies to what is stored.
    if len(value) > max_length:
        raise serializers.ValidationError(f"Ensure this field has no more than {max_length} characters.")
    return value


class UUIDStringField(serializers.UUIDField):
    """An id as API.md spells it: a UUID string. DRF's UUIDField also takes integers (and so booleans) as
    UUID(int=…), which would turn `"car_id": true` into a request for car 00000000-…-000000000001."""

    def to_internal_value(self, data: object) -> object:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
