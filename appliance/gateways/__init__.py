"""FXO/FXS gateways (adopted by MAC, their ports bound to extensions and trunks), in three rooms:

* ``service``: the service functions that adopt, bind, list and forget gateways (each change
  validated and audited), and answer a device's request for its provisioning file;
* ``port_state``: each port's state, read from Asterisk over AMI;
* ``provision``: the HTTP endpoint devices fetch their file from (the provisioning server's app,
  also nested in the console).

The device catalogue and the files' templates are ``hardware.gateways``; the console's page is
``appliance.web.gateways``.
"""
