"""Writes of payments: authorising (in the request: the customer waits for the bank's answer), and capture,
cancel and refund through the outbox (so a provider outage delays them but never loses one), webhooks, and the
settlement of a rental's payments once its ledger is final (a return, a cancellation, a no-show).

Amounts are guarded twice: here under the payment's row lock, and by the table's CHECKs (captured ≤ amount,
refunded ≤ refund_requested ≤ captured) and its one-live-payment-per-purpose index."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from rentals.models import OutboxKind, OutboxMessage, OutboxStatus, Rental, RentalStatus

from . import errors, metrics
from .models import LIVE_STATUSES, Payment, PaymentEvent, PaymentStatus, Purpose
from .providers import PROVIDERS, provider
from .providers import base as p

log = logging.getLogger(__name__)

# Where a payment's status may go from each status, by what the provider says: never back from an end.
_RANK = {
    PaymentStatus.AUTHORIZING: 0,
    PaymentStatus.REQUIRES_ACTION: 1,
    PaymentStatus.AUTHORIZED: 2,
}
_OF_INTENT = {
    p.IntentStatus.REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION,
    p.IntentStatus.AUTHORIZED: PaymentStatus.AUTHORIZED,
    p.IntentStatus.SUCCEEDED: PaymentStatus.CAPTURED,
    p.IntentStatus.CANCELED: PaymentStatus.CANCELLED,
    p.IntentStatus.FAILED: PaymentStatus.DECLINED,
}
PAYABLE = (RentalStatus.RESERVED, RentalStatus.ACTIVE, RentalStatus.COMPLETED)
# A rental whose ledger is final: its payments are settled against it.
SETTLED = (RentalStatus.COMPLETED, RentalStatus.CANCELLED, RentalStatus.NO_SHOW)
OPERATIONS = ("capture", "cancel", "refund", "void")


def call_lease_seconds() -> float:
    """How long a delivery holds a payment call's row: longer than the two provider calls a refund (or a void)
    makes, so no relay takes the row while it is in flight."""
    return max(settings.BOOKING_RELEASE_NOW_LEASE_SECONDS, 3 * settings.BOOKING_PAYMENT_TIMEOUT)


def _authorize_key(payment: Payment) -> str:
    return f"drivenow-payment-{payment.id}"


def deposit_amount(rental: Rental) -> int | None:
    """The deposit a booking's card is asked to hold: its price plus BOOKING_DEPOSIT_MARGIN_PERCENT (what a
    return's fees may add), rounded up; None when the rental has no price (a walk-in, a booking made unquoted)."""
    if not rental.price or rental.price <= 0:
        return None
    return math.ceil(rental.price * (100 + settings.BOOKING_DEPOSIT_MARGIN_PERCENT) / 100)


def balance_due(rental: Rental) -> int:
    """What the rental's ledger says is still to be taken: its price less what was captured (and not refunded)
    and what an authorised deposit's queued capture will take."""
    return (rental.price or 0) - _paid(Payment.objects.filter(rental_id=rental.id))


def _paid(payments: Iterable[Payment]) -> int:
    """What the payments have taken and keep: captured less refunds asked for, plus queued captures."""
    paid = 0
    for payment in payments:
        paid += payment.captured - payment.refund_requested
        if payment.closing == "capture":
            paid += _queued_capture(payment)
    return paid


def _queued_capture(payment: Payment) -> int:
    message = (
        OutboxMessage.objects.filter(kind=OutboxKind.PAYMENT, payload__payment_id=str(payment.id))
        .filter(payload__op="capture", status=OutboxStatus.PENDING)
        .order_by("-id")
        .first()
    )
    return int(message.payload.get("amount", 0)) if message else 0


def payment_create(
    *,
    rental_id: UUID,
    purpose: str,
    amount: int | None = None,
    currency: str | None = None,
    payment_method: str = "",
    idempotency_key: str = "",
    created_by: str = "",
) -> tuple[Payment, bool]:
    """Authorise a deposit (held, captured at the return) or take a charge on the rental's card, now: the provider
    answers while the customer waits. Returns (payment, created); the same Idempotency-Key again returns the first
    payment. 402 payment_declined (the payment is kept, declined), 409 payment_state (a live one of this purpose
    exists), 503 payment_unavailable (nothing held: an authorisation whose answer was lost is voided by the relay)."""
    if connection.in_atomic_block:
        raise RuntimeError("no database transaction may stay open across a call to the payment provider")
    rental = Rental.objects.filter(id=rental_id).first()
    if rental is None:
        raise errors.PaidRentalNotFound()
    if idempotency_key:
        first = Payment.objects.filter(rental_id=rental.id, idempotency_key=idempotency_key).first()
        if first is not None:
            return _replayed(first, purpose=purpose, amount=amount), False
    if rental.status not in PAYABLE:
        raise errors.PaymentState(
            f"The rental is {rental.status}; payments are taken for a reserved, active or completed one."
        )
    if purpose == Purpose.DEPOSIT and rental.status == RentalStatus.COMPLETED:
        raise errors.PaymentState("The rental is completed: a deposit is held before it ends.")
    if currency and rental.currency and currency != rental.currency:
        raise errors.PaymentCurrencyMismatch(f"The rental is billed in {rental.currency}.")
    currency = rental.currency or currency
    if not currency:
        raise errors.PaymentRefused("This rental has no price yet: name the amount and its currency.")
    if amount is None:
        amount = deposit_amount(rental) if purpose == Purpose.DEPOSIT else balance_due(rental)
        if amount is None:
            raise errors.PaymentRefused("This rental has no price yet: name the deposit's amount and currency.")
        if amount <= 0:
            raise errors.PaymentState("Nothing is due on this rental.")
    chosen = provider()
    if chosen.needs_method and not payment_method:
        raise errors.PaymentRefused(f"The {chosen.name} provider needs a payment_method (a card token).")
    metadata: dict[str, str] = {"rental": str(rental.id), "purpose": purpose}
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                rental_id=rental.id,
                purpose=purpose,
                provider=chosen.name,
                currency=currency,
                amount=amount,
                idempotency_key=idempotency_key,
                created_by=created_by,
            )
            metadata["payment"] = str(payment.id)
            # The void of this authorisation, due only if nobody records its answer (a worker killed mid-call):
            # whatever the provider did is then released, and the payment is no longer live.
            void = _queue(
                payment,
                "void",
                {"amount": amount, "currency": currency, "method": payment_method, "metadata": metadata},
                due_in=settings.BOOKING_PAYMENT_VOID_AFTER_SECONDS,
            )
    except IntegrityError:
        if idempotency_key:  # the same key at the same moment: the first one is answered
            first = Payment.objects.filter(rental_id=rental.id, idempotency_key=idempotency_key).first()
            if first is not None:
                return _replayed(first, purpose=purpose, amount=amount), False
        raise errors.PaymentState(f"This rental has a live {purpose} payment already.") from None
    try:
        with metrics.provider_call(chosen.name, "authorize"):
            intent = chosen.authorize(
                amount=amount,
                currency=currency,
                method=payment_method,
                capture=purpose == Purpose.CHARGE,
                idempotency_key=_authorize_key(payment),
                metadata=metadata,
            )
    except p.ProviderDeclined as exc:
        _ended(payment, PaymentStatus.DECLINED, kind="authorize", outcome="declined", exc=exc, void=void.id)
        raise errors.PaymentDeclined(str(exc), decline_code=exc.code, payment_id=str(payment.id)) from None
    except p.ProviderRefused as exc:
        _ended(payment, PaymentStatus.DECLINED, kind="authorize", outcome="refused", exc=exc, void=void.id)
        raise errors.PaymentDeclined(str(exc), decline_code=exc.code, payment_id=str(payment.id)) from None
    except p.ProviderUnavailable as exc:
        with transaction.atomic():
            _ended(payment, PaymentStatus.FAILED, kind="authorize", outcome="unavailable", exc=exc)
            OutboxMessage.objects.filter(id=void.id, status=OutboxStatus.PENDING).update(next_attempt_at=Now())
        raise errors.PaymentUnavailable() from None
    metrics.OPERATIONS.labels(chosen.name, "authorize", "ok").inc()
    payment = _sync(payment.id, intent, source="call", kind="authorize", amount=amount, void=void.id)
    if payment.status == PaymentStatus.DECLINED:
        raise errors.PaymentDeclined(decline_code=intent.decline_code, payment_id=str(payment.id))
    return payment, True


def _replayed(first: Payment, *, purpose: str, amount: int | None) -> Payment:
    if first.purpose != purpose or (amount is not None and amount != first.amount):
        raise errors.PaymentKeyReused()
    return first


def _ended(
    payment: Payment, status: str, *, kind: str, outcome: str, exc: p.ProviderError, void: int | None = None
) -> None:
    metrics.OPERATIONS.labels(payment.provider, kind, outcome).inc()
    with transaction.atomic():
        Payment.objects.filter(id=payment.id, status=PaymentStatus.AUTHORIZING).update(
            status=status, decline_code=exc.code[:64]
        )
        _event(payment, source="call", kind=kind, outcome=outcome, amount=payment.amount, detail=str(exc))
        if void is not None:
            _void_not_needed(void)


def _void_not_needed(message_id: int) -> None:
    """The authorisation was answered and recorded: its standby void has nothing to do."""
    OutboxMessage.objects.filter(id=message_id, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.DELIVERED, delivered_at=timezone.now(), last_error="the authorisation was answered"
    )


def _event(payment: Payment | None, *, source: str, kind: str, **fields: Any) -> None:
    PaymentEvent.objects.create(
        payment=payment,
        provider=payment.provider if payment else fields.pop("provider"),
        source=source,
        kind=kind[:64],
        **fields,
    )


def _sync(
    payment_id: UUID,
    intent: p.Intent,
    *,
    source: str,
    kind: str,
    amount: int | None = None,
    event_id: str = "",
    void: int | None = None,
) -> Payment:
    """Bring the payment to what the provider says, under its row lock: statuses only move forward, amounts only
    grow (a stale answer read before a newer one changes nothing), and the CHECKs hold whatever it says. Money
    that arrives after the rental's ledger was settled (a charge or 3-D Secure confirmed late) is settled again
    at once: what the ledger does not owe is refunded, an authorisation no longer needed is released."""
    with transaction.atomic():
        if void is not None:
            _void_not_needed(void)
        payment = Payment.objects.select_for_update().get(id=payment_id)
        before = (payment.status, payment.captured)
        status = _OF_INTENT[intent.status]
        if payment.status == PaymentStatus.EXPIRED and status == PaymentStatus.CANCELLED:
            status = PaymentStatus.EXPIRED
        if payment.status in _RANK and (status not in _RANK or _RANK[status] >= _RANK[payment.status]):
            payment.status = status
        elif payment.status == PaymentStatus.FAILED and status == PaymentStatus.CANCELLED:
            pass  # a voided authorisation: it stays failed (it was never the customer's)
        elif payment.status not in _RANK and payment.status != status:
            log.info("payment %s: provider says %s, booking has %s; kept", payment.id, status, payment.status)
        payment.ref = payment.ref or intent.ref
        payment.captured = max(payment.captured, min(intent.received, payment.amount))
        payment.refunded = max(payment.refunded, min(intent.refunded, payment.captured))
        payment.refund_requested = max(payment.refund_requested, payment.refunded)
        payment.decline_code = (intent.decline_code or payment.decline_code)[:64]
        payment.next_action_url = intent.next_action_url[:500]
        if payment.status not in LIVE_STATUSES:
            payment.closing = ""
        payment.save()
        _event(payment, source=source, kind=kind, event_id=event_id, outcome=str(intent.status), amount=amount)
        if (payment.status, payment.captured) != before and payment.status in (
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
        ):
            rental = Rental.objects.get(id=payment.rental_id)
            if rental.status in SETTLED and rental.price is not None:
                payments_settle(rental_id=rental.id)
    return payment


def _queue(payment: Payment, op: str, extra: Mapping[str, Any] | None = None, *, due_in: float = 0) -> OutboxMessage:
    """A call to the provider the relay delivers (inside the caller's transaction: it commits with the change)."""
    from rentals.outbox import outbox_enqueue_payment

    return outbox_enqueue_payment(payload={"payment_id": str(payment.id), "op": op, **(extra or {})}, due_in=due_in)


def payment_get(*, payment_id: UUID, for_update: bool = False) -> Payment:
    query = Payment.objects.select_for_update() if for_update else Payment.objects.all()
    payment = query.filter(id=payment_id).first()
    if payment is None:
        raise errors.PaymentNotFound()
    return payment


def payment_capture(*, payment_id: UUID, amount: int | None = None) -> tuple[Payment, int]:
    """Queue the capture of an authorised deposit (all of it by default; once: the rest is released). Returns
    the payment and the outbox message's id, which the caller delivers at once."""
    with transaction.atomic():
        payment = payment_get(payment_id=payment_id, for_update=True)
        if payment.status != PaymentStatus.AUTHORIZED or payment.closing:
            raise errors.PaymentState(f"Only an authorised payment is captured; this one is {_state(payment)}.")
        amount = payment.amount if amount is None else amount
        if amount > payment.amount:
            raise errors.PaymentState(f"At most the {payment.amount} authorised can be captured.")
        payment.closing = "capture"
        payment.save(update_fields=["closing", "updated_at"])
        message = _queue(payment, "capture", {"amount": amount})
    return payment, message.id


def payment_cancel(*, payment_id: UUID) -> tuple[Payment, int]:
    """Queue the release of an authorisation not captured (a deposit no longer needed, a 3-D Secure abandoned)."""
    with transaction.atomic():
        payment = payment_get(payment_id=payment_id, for_update=True)
        if payment.status not in (PaymentStatus.AUTHORIZED, PaymentStatus.REQUIRES_ACTION) or payment.closing:
            raise errors.PaymentState(f"Only an authorisation is cancelled; this one is {_state(payment)}.")
        payment.closing = "cancel"
        payment.save(update_fields=["closing", "updated_at"])
        message = _queue(payment, "cancel")
    return payment, message.id


def payment_refund(*, payment_id: UUID, amount: int | None = None) -> tuple[Payment, int]:
    """Queue a refund of what was captured (all that is left by default); refunds never add up to more than the
    capture: refund_requested grows under the row lock and a CHECK holds it to `captured`."""
    with transaction.atomic():
        payment = payment_get(payment_id=payment_id, for_update=True)
        left = payment.captured - payment.refund_requested
        if payment.status != PaymentStatus.CAPTURED or left <= 0:
            raise errors.PaymentState(f"Nothing is left to refund on this payment ({_state(payment)}).")
        amount = left if amount is None else amount
        if amount > left:
            raise errors.PaymentState(f"At most {left} is left to refund.")
        message = _refund(payment, amount)
    return payment, message.id


def _refund(payment: Payment, amount: int) -> OutboxMessage:
    Payment.objects.filter(id=payment.id).update(refund_requested=F("refund_requested") + amount)
    payment.refund_requested += amount
    return _queue(payment, "refund", {"amount": amount})


def _state(payment: Payment) -> str:
    return f"{payment.status}, {payment.closing} queued" if payment.closing else str(payment.status)


def payments_settle(*, rental_id: UUID) -> list[int]:
    """Once a rental's ledger is final (returned, cancelled, a no-show), take what it owes: the authorised deposit
    captured up to the total (the rest released; all of it released when nothing is owed), and what was paid beyond
    the total refunded. In the caller's transaction; idempotent by state — a second settlement finds the deposit
    closing and the refunds requested, so nothing is queued twice. Returns the queued outbox messages' ids."""
    assert connection.in_atomic_block, "a settlement is queued with the change that makes the ledger final"
    rental = Rental.objects.get(id=rental_id)
    payments = list(Payment.objects.select_for_update().filter(rental_id=rental_id).order_by("-created_at"))
    if not payments:
        return []
    queued: list[int] = []
    due = (rental.price or 0) - _paid(payments)
    for payment in payments:
        if payment.closing or payment.status not in (PaymentStatus.AUTHORIZED, PaymentStatus.REQUIRES_ACTION):
            continue
        take = min(max(due, 0), payment.amount) if payment.status == PaymentStatus.AUTHORIZED else 0
        if take > 0:
            payment.closing = "capture"
            queued.append(_queue(payment, "capture", {"amount": take}).id)
            due -= take
        else:
            payment.closing = "cancel"
            queued.append(_queue(payment, "cancel").id)
        payment.save(update_fields=["closing", "updated_at"])
    for payment in payments:  # paid more than the total (a cancellation of a prepaid booking): refund the rest
        left = payment.captured - payment.refund_requested
        if due >= 0:
            break
        if payment.status == PaymentStatus.CAPTURED and left > 0:
            amount = min(left, -due)
            queued.append(_refund(payment, amount).id)
            due += amount
    if due > 0:
        log.info("rental %s: %d %s is still due after its payments; staff take it", rental_id, due, rental.currency)
    return queued


def deposit_for_pickup(*, rental: Rental, payment_method: str | None, created_by: str = "") -> None:
    """With BOOKING_DEPOSIT_REQUIRED, the car leaves only once a deposit is authorised: the one authorised ahead
    (at booking), or one authorised now with `payment_method`. 402 payment_declined / payment_required otherwise."""
    if not settings.BOOKING_DEPOSIT_REQUIRED:
        return
    live = Payment.objects.filter(rental_id=rental.id, purpose=Purpose.DEPOSIT, status__in=LIVE_STATUSES).first()
    if live is not None and live.status == PaymentStatus.AUTHORIZED and not live.closing:
        return
    if live is not None:
        raise errors.PaymentRequired(f"The deposit is {_state(live)}: it must be authorised before the car leaves.")
    if payment_method is None:
        raise errors.PaymentRequired()
    payment, _ = payment_create(
        rental_id=rental.id, purpose=Purpose.DEPOSIT, payment_method=payment_method, created_by=created_by
    )
    if payment.status != PaymentStatus.AUTHORIZED:
        raise errors.PaymentRequired("The deposit awaits the customer's confirmation (3-D Secure); then pick up again.")


def payment_deliver(
    *, message_id: int, payload: Mapping[str, Any], held: QuerySet[OutboxMessage] | None = None
) -> tuple[str, str]:
    """Deliver one queued call to the provider (the relay, or a request at once), with the outbox row's id as its
    idempotency key: a retry after a lost answer is answered as the first call. Returns the outcome for the outbox
    (`delivered`, `retry`, `dead`) and a note."""
    if connection.in_atomic_block:
        raise RuntimeError("no database transaction may stay open across a call to the payment provider")
    payment = Payment.objects.filter(id=payload.get("payment_id")).first()
    op = payload.get("op")
    if payment is None or op not in OPERATIONS:
        return "dead", f"not a payment operation: {dict(payload)!r}"[:500]
    if op == "void":
        answered = _void_due(payment)
        if answered:
            return "delivered", answered
        payment.refresh_from_db()
    chosen = provider(payment.provider)
    key = f"drivenow-outbox-{message_id}"
    amount = payload.get("amount")
    try:
        with metrics.provider_call(chosen.name, op):
            if op == "capture":
                intent = chosen.capture(ref=payment.ref, amount=int(amount), idempotency_key=key)
            elif op == "cancel":
                intent = chosen.cancel(ref=payment.ref, idempotency_key=key)
            elif op == "refund":
                intent = chosen.refund(ref=payment.ref, amount=int(amount), idempotency_key=key)
            else:
                intent = _void(chosen, payment, payload, key)
                if intent is None:
                    metrics.OPERATIONS.labels(chosen.name, op, "ok").inc()
                    return "delivered", "the lost authorisation was never made: nothing to void"
    except p.ProviderUnavailable as exc:
        metrics.OPERATIONS.labels(chosen.name, op, "unavailable").inc()
        return "retry", f"payment provider unavailable: {exc}"
    except (p.ProviderRefused, p.ProviderDeclined) as exc:
        metrics.OPERATIONS.labels(chosen.name, op, "refused").inc()
        _refused(payment, op, amount, exc, held=held)
        return "dead", f"the payment provider refused the {op} ({exc.code}): {exc}"
    metrics.OPERATIONS.labels(chosen.name, op, "ok").inc()
    _sync(payment.id, intent, source="call", kind=op, amount=amount)
    return "delivered", ""


def _void_due(payment: Payment) -> str:
    """A standby void that came due: nothing to do (a note) when the authorisation was answered meanwhile; a
    payment still `authorizing` (its request died mid-call) is failed first, so it stops being live."""
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(id=payment.id)
        if locked.status == PaymentStatus.AUTHORIZING:
            locked.status = PaymentStatus.FAILED
            locked.save(update_fields=["status", "updated_at"])
            _event(locked, source="call", kind="authorize", outcome="no_answer", detail="voided: no answer recorded")
            return ""
        if locked.status != PaymentStatus.FAILED or locked.ref:
            return f"the authorisation was answered ({locked.status}): nothing to void"
    return ""


def _void(chosen: p.PaymentProvider, payment: Payment, payload: Mapping[str, Any], key: str) -> p.Intent | None:
    """An authorisation whose answer was lost: asked again with its own key (the provider answers what it did the
    first time, or does it now), then cancelled. None when the card was declined after all."""
    try:
        intent = chosen.authorize(
            amount=int(payload["amount"]),
            currency=str(payload["currency"]),
            method=str(payload.get("method", "")),
            capture=payment.purpose == Purpose.CHARGE,
            idempotency_key=_authorize_key(payment),
            metadata=payload.get("metadata") or {},
        )
    except p.ProviderDeclined:
        return None
    if intent.status in (p.IntentStatus.AUTHORIZED, p.IntentStatus.REQUIRES_ACTION):
        return chosen.cancel(ref=intent.ref, idempotency_key=key)
    if intent.status == p.IntentStatus.SUCCEEDED and intent.received > intent.refunded:
        return chosen.refund(ref=intent.ref, amount=intent.received - intent.refunded, idempotency_key=key)
    return intent


def _refused(
    payment: Payment, op: str, amount: object, exc: p.ProviderError, *, held: QuerySet[OutboxMessage] | None
) -> None:
    """The provider refused for good: the payment says so (an expired authorisation), and what was requested of
    it is given back (a refund refused is no longer requested; a capture refused leaves it closable again) — only
    while this delivery still holds its row (its lease), so a delivery that lost its row to another gives back
    nothing that the other may have done."""
    with transaction.atomic():
        if held is not None and not held.select_for_update().exists():
            log.warning(
                "payment %s: %s refused, but its call's lease was lost; left to the other delivery", payment.id, op
            )
            return
        locked = Payment.objects.select_for_update().get(id=payment.id)
        if op == "capture" and exc.code == "authorization_expired":
            locked.status = PaymentStatus.EXPIRED
        if op in ("capture", "cancel"):
            locked.closing = ""
        if op == "refund" and isinstance(amount, int):
            locked.refund_requested = max(locked.refunded, locked.refund_requested - amount)
        locked.save()
        _event(locked, source="call", kind=op, outcome="refused", amount=amount, detail=f"{exc.code}: {exc}"[:2000])


def webhook_receive(*, provider_name: str, body: bytes, headers: Mapping[str, str]) -> dict[str, object]:
    """A provider's webhook: its signature checked (400 bad_signature), its type one booking acts on (422
    unsupported_event), recorded once per event id (a duplicate answers 200 and does nothing), and acted on by
    re-reading the intent it names — what the event says is not trusted, since events come late and out of order."""
    if provider_name not in PROVIDERS or provider_name != settings.BOOKING_PAYMENT_PROVIDER:
        raise errors.UnknownProvider()
    chosen = provider(provider_name)
    try:
        event = chosen.parse_webhook(body=body, headers=headers)
    except p.BadSignature as exc:
        metrics.WEBHOOKS.labels(provider_name, "bad_signature").inc()
        raise errors.BadSignature(str(exc)) from None
    except p.UnsupportedEvent as exc:
        metrics.WEBHOOKS.labels(provider_name, "unsupported").inc()
        raise errors.UnsupportedEvent(str(exc)) from None
    if PaymentEvent.objects.filter(provider=provider_name, event_id=event.id).exists():
        metrics.WEBHOOKS.labels(provider_name, "duplicate").inc()
        return {"received": True, "duplicate": True}
    payment = Payment.objects.filter(provider=provider_name, ref=event.ref).first()
    if payment is None:
        try:
            with transaction.atomic():
                _event(
                    None,
                    provider=provider_name,
                    source="webhook",
                    kind=event.type,
                    event_id=event.id,
                    outcome="unknown_payment",
                    detail=f"no payment has ref {event.ref}",
                )
        except IntegrityError:
            return {"received": True, "duplicate": True}
        metrics.WEBHOOKS.labels(provider_name, "unknown_payment").inc()
        return {"received": True, "duplicate": False}
    try:
        with metrics.provider_call(chosen.name, "retrieve"):
            intent = chosen.retrieve(ref=event.ref)
    except p.ProviderUnavailable:
        raise errors.PaymentUnavailable("The provider did not answer the re-read; send the event again.") from None
    except p.ProviderRefused as exc:
        raise errors.UnsupportedEvent(f"The provider does not know the payment the event names: {exc}") from None
    try:
        _sync(payment.id, intent, source="webhook", kind=event.type, event_id=event.id)
    except IntegrityError:  # the same event delivered twice at the same moment: the other one recorded it
        metrics.WEBHOOKS.labels(provider_name, "duplicate").inc()
        return {"received": True, "duplicate": True}
    metrics.WEBHOOKS.labels(provider_name, "acted").inc()
    return {"received": True, "duplicate": False}
