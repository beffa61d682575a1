"""`Idempotency-Key` on POST /rentals/: one stored answer per key for 24 h — the header, the fingerprint, the
claim, the record and the replay, all here; the view calls `idempotent_start` and the services claim and record.

The key row is inserted first, in the transaction that stores the pending rental, so two identical requests at
once meet on its primary key: one proceeds, the other waits for that commit and then answers 409 (in use) or
replays. An answer with an unknown outcome (503) is not kept, but the key keeps its rental: the retry that
`Retry-After` invites carries on with the same rental and reserves with the same id, so inventory answers it
with the hold the first attempt may have made (a replay) instead of meeting that hold as somebody else's.
When the sweep has failed that rental meanwhile (and released its hold), the key starts afresh once the release
is delivered.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models.functions import Now
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from drivenow_contracts.server.errors import problem

from . import errors
from .models import IdempotencyKey, IdempotencyState, OutboxMessage, OutboxStatus, Rental, RentalStatus

REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII, as the header's sf-string allows; fullmatch, since `$` would let a final newline through.
_KEY = re.compile(r"[\x21-\x7e]{1,255}")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=f"^{_KEY.pattern}$",
    description=(
        "Makes the request safe to retry (1–255 visible ASCII characters, kept 24 h). The same key with the same "
        "body answers the first response again (status and body, with `Idempotent-Replayed: true`); with another "
        "body 422 `idempotency_key_reused`; while the first is still running 409 `idempotency_key_in_use`. "
        "A 503 is not kept: retrying with the same key carries on with the same rental."
    ),
)


@dataclass(frozen=True)
class IdempotencyRequest:
    key: str
    fingerprint: str
    render: Callable[[Rental], dict[str, Any]]  # the body of the 201 an active (or reserved) rental answers

    def answer_of(self, rental: Rental) -> StoredResponse | None:
        """What the start of this settled rental answers; None for an unknown outcome (a 503, not kept)."""
        if rental.status in (RentalStatus.ACTIVE, RentalStatus.RESERVED):
            return StoredResponse(status=201, body=self.render(rental))
        error = errors.error_of_failure(rental.failure_code)
        if error is None:
            return None
        return StoredResponse(status=error.http_status, body=problem(error.http_status, error.code, error.detail))


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to a key: a status and a JSON body (a rental, or a problem)."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Resumed:
    """The key's earlier attempt answered 503: carry on with its rental, still pending, and its id."""

    rental_id: UUID


def idempotency_ttl() -> timedelta:
    return timedelta(hours=settings.BOOKING_IDEMPOTENCY_TTL_HOURS)


def idempotency_fingerprint(*, body: Mapping[str, Any], user_id: int | None) -> str:
    """sha256 of the canonical JSON of the (validated) body and the caller: the same request, whoever spells it."""
    canonical = json.dumps({"body": body, "user": user_id}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_claim(*, request: IdempotencyRequest, rental_id: UUID) -> StoredResponse | Resumed | None:
    """Claim the key for the rental about to be stored, inside that transaction. None: claimed, go ahead.

    Returns the stored answer for a replay, or Resumed when an earlier attempt answered 503 and its rental is
    still pending. Raises IdempotencyKeyReused (another body), IdempotencyKeyInUse (the first request is still
    running), or RentalInventoryUnavailable while the release of an earlier attempt's abandoned rental is undelivered.
    An expired key is forgotten and claimed afresh.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("idempotency_claim must run in the transaction that stores the rental")
    for _ in range(3):
        IdempotencyKey.objects.filter(key=request.key, created_at__lt=Now() - idempotency_ttl()).delete()
        try:
            with transaction.atomic():
                # Waits on a concurrent insert of the same key until that transaction ends.
                IdempotencyKey.objects.create(key=request.key, fingerprint=request.fingerprint, rental_id=rental_id)
            return None
        except IntegrityError:
            existing = IdempotencyKey.objects.select_for_update().filter(key=request.key).first()
        if existing is None:
            continue  # expired and forgotten in between: claim it again
        if existing.fingerprint != request.fingerprint:
            raise errors.IdempotencyKeyReused()
        if existing.state == IdempotencyState.IN_PROGRESS:
            raise errors.IdempotencyKeyInUse()
        if existing.state == IdempotencyState.COMPLETED:
            assert existing.response_status is not None and existing.response_body is not None
            return StoredResponse(status=existing.response_status, body=existing.response_body)
        resumed = _resume(existing)
        if resumed is not None:
            return resumed
    raise errors.IdempotencyKeyInUse()


def _resume(key: IdempotencyKey) -> Resumed | None:
    """A retryable key: its pending rental carries on (Resumed), or, when the sweep failed that rental, the key
    is forgotten (None: claim afresh) — but only once the rental's release is delivered, so the fresh attempt
    cannot meet the old attempt's hold and store a 409 for a car this very client holds."""
    try:
        with transaction.atomic():
            # NOWAIT: the sweep locks the rental before the key; waiting here, key first, could deadlock with it.
            rental = Rental.objects.select_for_update(nowait=True).filter(id=key.rental_id).first()
    except DatabaseError:
        raise errors.IdempotencyKeyInUse() from None
    if rental is not None and rental.status == RentalStatus.PENDING:
        key.state = IdempotencyState.IN_PROGRESS
        key.save(update_fields=["state"])
        # Touched, so the sweep leaves it to this attempt.
        Rental.objects.filter(id=rental.id).update(updated_at=Now())
        return Resumed(rental.id)
    if rental is not None and rental.status != RentalStatus.FAILED:
        raise errors.IdempotencyKeyInUse()  # settled but unanswered: never the case, and never a second rental
    # A dead release (inventory refused it for good) waits for a person's "retry now" like a pending one does:
    # until it is delivered the old hold may still be there.
    if (
        rental is not None
        and OutboxMessage.objects.filter(
            reservation_id=rental.id, status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD]
        ).exists()
    ):
        raise errors.RentalInventoryUnavailable(
            "An earlier attempt with this Idempotency-Key is still being undone in inventory; try again shortly."
        )
    key.delete()
    return None


def idempotency_record(*, rental: Rental, request: IdempotencyRequest) -> None:
    """Store the answer of the key that started this rental, in the settling transaction; an unknown outcome is
    not kept: the key stays with the rental and a retry carries on with it."""
    response = request.answer_of(rental)
    if response is None:
        idempotency_keep_for_retry(rental_id=rental.id)
        return
    IdempotencyKey.objects.filter(rental_id=rental.id, state=IdempotencyState.IN_PROGRESS).update(
        state=IdempotencyState.COMPLETED,
        response_status=response.status,
        response_body=response.body,
        completed_at=timezone.now(),
    )


def idempotency_keep_for_retry(*, rental_id: UUID) -> None:
    """The start of this rental answered 503, or never answered (the sweep): its key, if it has one, may be
    retried. In the transaction that leaves or makes the rental so."""
    IdempotencyKey.objects.filter(rental_id=rental_id, state=IdempotencyState.IN_PROGRESS).update(
        state=IdempotencyState.RETRYABLE
    )


def idempotent_start(
    request: Request,
    *,
    body: Mapping[str, Any],
    start: Callable[[IdempotencyRequest | None], Rental | StoredResponse],
    render: Callable[[Rental], dict[str, Any]],
) -> Response:
    """POST /rentals/ with its Idempotency-Key, if any: run `start` with the key's request (None without one) and
    answer 201 with the rental it returns, or the first answer again when the key was answered before."""
    key = header_key(request)
    idempotency = None
    if key is not None:
        fingerprint = idempotency_fingerprint(body=body, user_id=request.user.pk)
        idempotency = IdempotencyRequest(key, fingerprint, render)
    result = start(idempotency)
    if isinstance(result, Rental):
        return Response(render(result), status=status.HTTP_201_CREATED)
    if result.status >= 400:
        # Raised again so the problem renders exactly as the first time (content type, instance).
        raise errors.ReplayedProblem(status=result.status, code=result.body["code"], detail=result.body["detail"])
    return Response(result.body, status=result.status, headers={REPLAYED_HEADER: "true"})


def header_key(request: Request) -> str | None:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    key = raw.strip(" \t")  # the header's optional whitespace (RFC 9110), nothing else
    if not _KEY.fullmatch(key):
        raise exceptions.ValidationError({"Idempotency-Key": ["1–255 visible ASCII characters, no spaces."]})
    return key


def idempotency_purge_expired(*, now: datetime | None = None) -> int:
    """Delete keys older than the retention (24 h); run by the relay's periodic sweep."""
    cutoff = (now or Now()) - idempotency_ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
