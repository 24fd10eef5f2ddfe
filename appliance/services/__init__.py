"""What turns the Python package into running services on the appliance.

* ``notify``: sd_notify (READY, STATUS, WATCHDOG, STOPPING) through python-systemd, or a few lines of
  fallback writing to ``$NOTIFY_SOCKET``, and the watchdog thread;
* ``journal``: logging to the journal with structured fields under systemd, to stderr elsewhere;
* ``tls``: the console's certificate (self-signed on first start, replaceable by the admin's own);
* ``web``: ``linebox serve``, the process ``linebox-web.service`` runs;
* ``provision``: ``linebox provision-serve``, the gateways' plain-HTTP provisioning server
  (``linebox-provision.service``);
* ``http_server``: the cheroot HTTP(S) server both HTTP services run (kept out of ``appliance.web`` so
  the provisioning server does not load the console);
* ``collector``: ``linebox collect``, the call-center event collector's loop (``linebox-collector.service``:
  READY, rounds, auto-pause, watchdog, STOPPING) around ``appliance.callcenter.collector``;
* ``bans``: ``linebox bans watch``, the ban service (``linebox-bans.service``): Asterisk's security events
  over AMI into ``appliance.security.bans``, and the firewall's ban sets kept in step with the database;
* ``webhooks``: ``linebox webhooks`` (``linebox-webhooks.service``): queue calls' agent events over AMI into
  the webhook delivery log, and the log sent to the site's receiver (``appliance.callcenter.webhooks``);
* ``robot``: ``linebox robot`` (``linebox-robot.service``): the voice robots' AudioSocket server
  (``appliance.robot``);
* ``serving``: what both HTTP services share (SIGTERM, READY, the watchdog, a clean stop);
* ``system``: ``linebox init-system``, which makes ``/var/lib/linebox`` for the system's services;
* ``boot``: the oneshot ``linebox-apply.service`` runs before Asterisk starts;
* ``security_report``: ``systemd-analyze security`` scores of the units.

The unit files themselves live with the Ansible role that installs them (``ansible/roles/*/files``).
"""
