"""`Idempotency-Key` on POST /rentals/: one stored answer per key for 24 h (DESIGN.md, Idempotency).

The key row is inserted first, in the transaction that stores the pending rental, so two identical requests at
once meet on its primary key: one proceeds, the other waits for that commit and then answers 409 (in use) or
replays. Answers with an unknown outcome (503) are not kept: the key is forgotten so the retry that
`Retry-After` invites really runs again.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from . import errors
from .models import IdempotencyKey, IdempotencyState


@dataclass(frozen=True)
class IdempotencyRequest:
    key: str
    fingerprint: str


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to a key: a status and a JSON body (a rental, or a problem)."""

    status: int
    body: dict[str, Any]


def idempotency_ttl() -> timedelta:
    return timedelta(hours=settings.BOOKING_IDEMPOTENCY_TTL_HOURS)


def idempotency_fingerprint(*, body: Mapping[str, Any], user_id: int | None) -> str:
    """sha256 of the canonical JSON of the (validated) body and the caller: the same request, whoever spells it."""
    canonical = json.dumps({"body": body, "user": user_id}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_claim(*, request: IdempotencyRequest, rental_id: UUID) -> StoredResponse | None:
    """Claim the key for the rental about to be stored, inside that transaction. None: claimed, go ahead.

    Returns the stored answer for a replay; raises IdempotencyKeyReused (another body) or IdempotencyKeyInUse
    (the first request is still running). An expired key is forgotten and claimed afresh.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("idempotency_claim must run in the transaction that stores the rental")
    for _ in range(3):
        IdempotencyKey.objects.filter(key=request.key, created_at__lt=timezone.now() - idempotency_ttl()).delete()
        try:
            with transaction.atomic():
                # Waits on a concurrent insert of the same key until that transaction ends.
                IdempotencyKey.objects.create(key=request.key, fingerprint=request.fingerprint, rental_id=rental_id)
            return None
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(key=request.key).first()
        if existing is None:
            continue  # forgotten in between (its request answered 503): claim it again
        if existing.fingerprint != request.fingerprint:
            raise errors.IdempotencyKeyReused()
        if existing.state == IdempotencyState.IN_PROGRESS:
            raise errors.IdempotencyKeyInUse()
        assert existing.response_status is not None and existing.response_body is not None
        return StoredResponse(status=existing.response_status, body=existing.response_body)
    raise errors.IdempotencyKeyInUse()


def idempotency_record(*, rental_id: UUID, response: StoredResponse | None) -> None:
    """Store the answer of the key that started this rental (None: forget the key). In the settling transaction."""
    keys = IdempotencyKey.objects.filter(rental_id=rental_id, state=IdempotencyState.IN_PROGRESS)
    if response is None:
        keys.delete()
    else:
        keys.update(
            state=IdempotencyState.COMPLETED,
            response_status=response.status,
            response_body=response.body,
            completed_at=timezone.now(),
        )


def idempotency_purge_expired(*, now: datetime | None = None) -> int:
    """Delete keys older than the retention (24 h); run by the relay's periodic sweep."""
    cutoff = (now or timezone.now()) - idempotency_ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
