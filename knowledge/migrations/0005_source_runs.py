from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0004_knowledgebase_min_relevance")]

    operations = [
        migrations.AddField(model_name="source", name="run", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(
            model_name="source", name="attempts", field=models.PositiveSmallIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="source", name="heartbeat_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="source", name="worker", field=models.CharField(blank=True, default="", max_length=200)
        ),
    ]
