import factory

from fleet.models import Car, CarStatus


class CarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Car

    model = factory.Iterator(["Tesla Model 3", "Toyota Corolla", "Renault Zoe", "Fiat 500"])
    year = factory.Sequence(lambda n: 2015 + n % 10)
    plate = factory.Sequence(lambda n: f"DN{n:05d}")
    status = CarStatus.AVAILABLE
