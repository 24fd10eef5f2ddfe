"""Call-center data: the event collector (queue_log and CDR into SQLite) and the KPI reports."""
