"""Provisioning: the site database rendered into Asterisk's config files, and the atomic apply."""
