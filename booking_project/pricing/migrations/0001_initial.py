# Prices: rate plans (an exclusion constraint keeps two plans of one class and branch from being in force at
# once: btree_gist for the codes' equality), extras, and quotes with their lines.

import django.contrib.postgres.constraints
import django.db.models.deletion
import django.db.models.expressions
import pricing.models
import uuid
from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        BtreeGistExtension(),
        migrations.CreateModel(
            name='Extra',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('code', models.CharField(max_length=32)),
                ('name', models.CharField(max_length=100)),
                ('price', models.PositiveIntegerField(help_text='Minor units.')),
                ('currency', models.CharField(max_length=3)),
                ('per', models.CharField(choices=[('day', 'Per day'), ('rental', 'Per rental')], max_length=8)),
                ('max_quantity', models.PositiveIntegerField(default=1)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['code'],
                'constraints': [models.UniqueConstraint(fields=('code',), name='extra_code_unique'), models.CheckConstraint(condition=models.Q(('price__gt', 0)), name='extra_price_positive'), models.CheckConstraint(condition=models.Q(('max_quantity__gt', 0)), name='extra_max_quantity_positive'), models.CheckConstraint(condition=models.Q(('per__in', ['day', 'rental'])), name='extra_per_valid'), models.CheckConstraint(condition=models.Q(('currency__regex', '^[A-Z]{3}$')), name='extra_currency_code')],
            },
        ),
        migrations.CreateModel(
            name='Quote',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('vehicle_class', models.CharField(max_length=32)),
                ('pickup_location', models.CharField(max_length=32)),
                ('return_location', models.CharField(max_length=32)),
                ('pickup_at', models.DateTimeField()),
                ('return_at', models.DateTimeField()),
                ('extras', models.JSONField(blank=True, default=list, help_text='[{"code": …, "quantity": …}] as asked.')),
                ('currency', models.CharField(max_length=3)),
                ('total', models.BigIntegerField()),
                ('expires_at', models.DateTimeField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['-created_at', 'id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('total__gte', 0)), name='quote_total_not_negative'), models.CheckConstraint(condition=models.Q(('return_at__gt', models.F('pickup_at'))), name='quote_return_after_pickup')],
            },
        ),
        migrations.CreateModel(
            name='RatePlan',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('vehicle_class', models.CharField(max_length=32)),
                ('location', models.CharField(blank=True, default='', help_text='Blank: every branch.', max_length=32)),
                ('currency', models.CharField(max_length=3)),
                ('hour', models.PositiveIntegerField(help_text='Minor units.')),
                ('day', models.PositiveIntegerField(help_text='Minor units.')),
                ('week', models.PositiveIntegerField(help_text='Minor units.')),
                ('valid_from', models.DateTimeField()),
                ('valid_until', models.DateTimeField(blank=True, null=True)),
                ('km_per_day', models.PositiveIntegerField(blank=True, help_text='Included km a day; empty: unlimited.', null=True)),
                ('per_extra_km', models.PositiveIntegerField(blank=True, help_text='Minor units per km over it.', null=True)),
                ('one_way_fee', models.PositiveIntegerField(default=0, help_text='Minor units, for a return at another branch.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['vehicle_class', 'location', 'valid_from', 'id'],
                'constraints': [django.contrib.postgres.constraints.ExclusionConstraint(expressions=[('vehicle_class', '='), ('location', '='), (pricing.models.TsTzRange('valid_from', 'valid_until', models.Value('[)')), '&&')], name='rate_plan_no_overlap', violation_error_code='rate_plan_overlap', violation_error_message='Another plan for this class and branch is in force during this validity.'), models.CheckConstraint(condition=models.Q(('day__gt', 0), ('hour__gt', 0), ('week__gt', 0)), name='rate_plan_prices_positive'), models.CheckConstraint(condition=models.Q(('valid_until__isnull', True), ('valid_until__gt', models.F('valid_from')), _connector='OR'), name='rate_plan_valid_until_after_from'), models.CheckConstraint(condition=models.Q(('currency__regex', '^[A-Z]{3}$')), name='rate_plan_currency_code')],
            },
        ),
        migrations.CreateModel(
            name='QuoteLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('kind', models.CharField(max_length=16)),
                ('description', models.CharField(max_length=200)),
                ('quantity', models.PositiveIntegerField()),
                ('unit_price', models.BigIntegerField()),
                ('amount', models.BigIntegerField()),
                ('rule', models.CharField(help_text='Where the line came from: plan and unit, extra, fee.', max_length=100)),
                ('quote', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='pricing.quote')),
            ],
            options={
                'ordering': ['quote', 'position'],
                'constraints': [models.UniqueConstraint(fields=('quote', 'position'), name='quote_line_position_unique'), models.CheckConstraint(condition=models.Q(('amount', django.db.models.expressions.CombinedExpression(models.F('quantity'), '*', models.F('unit_price')))), name='quote_line_amount')],
            },
        ),
    ]
