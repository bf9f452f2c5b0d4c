"""Governance state: models, connections, migrations and bulk loading."""
