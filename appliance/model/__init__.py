"""The data model: peewee models on one SQLite file, migrations and the audit log."""
