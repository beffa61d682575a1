# A plan prices the fuel a return is missing, per eighth of a tank.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pricing', '0002_charges_ledger'),
    ]

    operations = [
        migrations.AddField(
            model_name='rateplan',
            name='fuel_per_eighth',
            field=models.PositiveIntegerField(default=0, help_text='Minor units per eighth of a tank missing.'),
        ),
    ]
