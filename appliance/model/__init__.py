"""The data model: peewee models on one SQLite file (or PostgreSQL: appliance.model.engine), migrations
and the audit log."""
