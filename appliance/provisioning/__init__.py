"""Provisioning: what Asterisk and DAHDI read, made from the site (config files, IVR sounds), and the atomic apply."""
