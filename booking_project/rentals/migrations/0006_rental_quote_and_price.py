# Money (v2): a booking made at a quote keeps the quote, its price and its currency.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pricing', '0001_initial'),
        ('rentals', '0005_pickup_claims_outbox_db_clock'),
    ]

    operations = [
        migrations.AddField(
            model_name='rental',
            name='currency',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=3),
        ),
        migrations.AddField(
            model_name='rental',
            name='price',
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='rental',
            name='quote',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='rentals', to='pricing.quote'),
        ),
    ]
