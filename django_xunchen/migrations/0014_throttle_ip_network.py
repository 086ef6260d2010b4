"""ThrottleEvent.ip holds what the per-IP throttle counts by: an IPv4 address, or an
IPv6 network such as "2001:db8:1:2::/64", which an IP address column does not take
everywhere. PostgreSQL casts its inet values to text with their netmask
("203.0.113.7/32"): they are put back to the bare address that the throttles look up.
Reversible: an IP address column on PostgreSQL (inet) takes a network too."""

from django.db import migrations, models


def bare_addresses(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # the other databases kept the text as it was
    table = schema_editor.quote_name(apps.get_model("django_xunchen", "ThrottleEvent")._meta.db_table)
    schema_editor.execute(f"UPDATE {table} SET ip = host(ip::inet) WHERE strpos(ip, '/') > 0")


class Migration(migrations.Migration):
    dependencies = [
        ("django_xunchen", "0013_request_identity"),
    ]

    operations = [
        migrations.AlterField(
            model_name="throttleevent",
            name="ip",
            field=models.CharField(
                blank=True,
                help_text="An IPv4 address, or the IPv6 network (a /64 by default) the address belongs to.",
                max_length=43,
                null=True,
                verbose_name="client IP",
            ),
        ),
        migrations.RunPython(bare_addresses, migrations.RunPython.noop, elidable=True),
    ]
