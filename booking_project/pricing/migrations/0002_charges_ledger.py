# The charges ledger: one line per (rental, kind, source), never changed or removed — a trigger refuses UPDATE and
# DELETE (TRUNCATE, which only a database owner's maintenance does, is left alone).

import django.db.models.deletion
import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pricing', '0001_initial'),
        ('rentals', '0006_rental_quote_and_price'),
    ]

    operations = [
        migrations.CreateModel(
            name='Charge',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('rental', 'Rental'), ('extra', 'Extra'), ('one_way', 'One-way return'), ('late_return', 'Late return'), ('mileage', 'Mileage'), ('fuel', 'Fuel'), ('damage', 'Damage'), ('cancellation', 'Cancellation'), ('no_show', 'No-show'), ('adjustment', 'Adjustment')], max_length=16)),
                ('description', models.CharField(max_length=200)),
                ('quantity', models.BigIntegerField(default=1)),
                ('unit_price', models.BigIntegerField()),
                ('amount', models.BigIntegerField(help_text='Minor units; negative for a credit.')),
                ('currency', models.CharField(max_length=3)),
                ('source', models.CharField(help_text='What wrote it: quote:<id>:<line>, staff:<key>, …', max_length=300)),
                ('rule', models.CharField(blank=True, default='', max_length=100)),
                ('created_by', models.CharField(blank=True, default='', help_text='The staff user, if any.', max_length=150)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('rental', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='charges', to='rentals.rental')),
            ],
            options={
                'ordering': ['rental', 'id'],
                'constraints': [models.UniqueConstraint(fields=('rental', 'kind', 'source'), name='charge_once_per_source'), models.CheckConstraint(condition=models.Q(('kind__in', ['rental', 'extra', 'one_way', 'late_return', 'mileage', 'fuel', 'damage', 'cancellation', 'no_show', 'adjustment'])), name='charge_kind_valid'), models.CheckConstraint(condition=models.Q(('amount', django.db.models.expressions.CombinedExpression(models.F('quantity'), '*', models.F('unit_price')))), name='charge_amount'), models.CheckConstraint(condition=models.Q(('quantity__gt', 0)), name='charge_quantity_positive'), models.CheckConstraint(condition=models.Q(('currency__regex', '^[A-Z]{3}$')), name='charge_currency_code')],
            },
        ),
        migrations.RunSQL(
            sql=(
                "CREATE FUNCTION pricing_charge_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'charges are append-only: add an adjustment line instead' "
                "USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'charge_append_only'; END $$;"
                "CREATE TRIGGER charge_append_only BEFORE UPDATE OR DELETE ON pricing_charge "
                "FOR EACH ROW EXECUTE FUNCTION pricing_charge_append_only();"
            ),
            reverse_sql=(
                "DROP TRIGGER charge_append_only ON pricing_charge; DROP FUNCTION pricing_charge_append_only();"
            ),
        ),
    ]
