import pytest
from django.db import IntegrityError, transaction

from customers import errors, services
from customers.models import Customer, CustomerStatus
from customers.tests.factories import CustomerFactory
from rentals.models import Rental, RentalStatus

pytestmark = pytest.mark.django_db


def test_customer_create_trims_email_and_lowercases_its_domain():
    customer = services.customer_create(name="Ada Lovelace", email="  Ada@Example.COM ")
    assert customer.email == "Ada@example.com"
    assert customer.status == CustomerStatus.ACTIVE


def test_email_is_unique_among_active_customers_whatever_its_case():
    services.customer_create(name="Ada", email="ada@example.com")
    with pytest.raises(errors.CustomerExists):
        services.customer_create(name="Other Ada", email="ADA@example.com")
    assert Customer.objects.count() == 1


def test_a_deactivated_customer_frees_the_email():
    first = services.customer_create(name="Ada", email="ada@example.com")
    services.customer_deactivate(customer_id=first.id)
    second = services.customer_create(name="Ada again", email="ada@example.com")
    assert second.id != first.id


def test_the_database_refuses_a_duplicate_active_email_whatever_the_code_does():
    CustomerFactory(email="grace@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(name="Twin", email="GRACE@example.com")


def test_update_to_an_email_another_active_customer_has_is_refused():
    CustomerFactory(email="taken@example.com")
    customer = CustomerFactory()
    with pytest.raises(errors.CustomerExists):
        services.customer_update(customer_id=customer.id, email="Taken@example.com")
    customer.refresh_from_db()
    assert customer.email != "taken@example.com"


def test_update_changes_only_the_given_fields():
    customer = CustomerFactory(phone="+1 555 0100")
    updated = services.customer_update(customer_id=customer.id, name="New Name")
    assert (updated.name, updated.phone) == ("New Name", "+1 555 0100")


def test_deactivate_anonymises_keeps_rentals_and_is_idempotent():
    customer = CustomerFactory(name="Ada Lovelace", email="ada@example.com", phone="+44 1", driver_licence="AB1")
    rental = Rental.objects.create(
        car_id="6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a00",
        customer=customer,
        status=RentalStatus.FAILED,
        failure_code="car_unavailable",
    )
    deactivated = services.customer_deactivate(customer_id=customer.id)
    assert deactivated.status == CustomerStatus.DEACTIVATED
    assert (deactivated.name, deactivated.email, deactivated.phone, deactivated.driver_licence) == (
        services.ANONYMISED_NAME,
        "",
        "",
        "",
    )
    assert deactivated.deactivated_at is not None
    assert list(deactivated.rentals.all()) == [rental]
    again = services.customer_deactivate(customer_id=customer.id)
    assert again.deactivated_at == deactivated.deactivated_at


def test_a_deactivated_customer_cannot_be_changed():
    customer = CustomerFactory()
    services.customer_deactivate(customer_id=customer.id)
    with pytest.raises(errors.CustomerInactive):
        services.customer_update(customer_id=customer.id, name="Back")


def test_an_active_customer_without_email_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(name="No Mail", email="")
