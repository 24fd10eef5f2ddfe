"""Clients for the running Asterisk: AMI (control and events)."""
