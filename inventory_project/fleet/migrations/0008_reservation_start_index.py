# The availability predicate asks, per car, for the last hold that starts before a window ends (a car's holds
# never overlap, so it overlaps the window exactly when any does), and best fit for the holds either side of it:
# a btree on (car, start of the hold) answers each with one probe, however many holds a car has ahead. Written
# in SQL for its INCLUDE (the period, read without a heap visit); the partial condition is the exclusion
# constraint's, so released holds stay out of it as they stay out of that.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('fleet', '0007_class_minimum_rental'),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX reservation_car_start_idx ON fleet_reservation (car_id, lower(period)) "
                "INCLUDE (period) WHERE NOT (state = 'released')"
            ),
            reverse_sql="DROP INDEX reservation_car_start_idx",
        ),
    ]
