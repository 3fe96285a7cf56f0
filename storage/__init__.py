"""Storage: models, migrations, engine set-up and queries."""
