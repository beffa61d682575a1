"""The roles as groups (drivenow_contracts.Role): what each may do in inventory. A JWT's `roles` name them."""

from django.db import migrations

from drivenow_contracts import Role
from drivenow_contracts.server.roles import ensure_role_groups

FLEET = ["add", "change", "delete", "view"]
GRANTS = {
    Role.FLEET_STAFF: [f"fleet.{verb}_{model}" for verb in FLEET for model in ("car", "location", "vehicleclass")]
    + ["fleet.view_reservation"],
    Role.FRONT_DESK: ["fleet.view_car", "fleet.view_location", "fleet.view_vehicleclass"],
    Role.BOOKING_SERVICE: ["fleet.manage_reservations"],
}


def forwards(apps, schema_editor):
    ensure_role_groups(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("fleet", "0009_car_location_class_index"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
