import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0003_chunk_vector_indexes")]

    operations = [
        migrations.AddField(
            model_name="knowledgebase",
            name="min_relevance",
            field=models.FloatField(
                blank=True,
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(0.0),
                    django.core.validators.MaxValueValidator(1.0),
                ],
            ),
        ),
    ]
