"""FastAGI: call-time logic Asterisk asks Linebox for over TCP (``AGI(agi://127.0.0.1:4573/<script>)``).

* ``protocol``: the AGI protocol on one connection (environment, commands, replies).
* ``server``: a threaded FastAGI server that hands each connection to a script by name.
* ``caller_name``: the ``caller-name`` script (phonebook lookup for the caller's name).
* ``disposition``: the ``disposition`` script (was a queue call's disposition saved before it ended?).

The service around them (``linebox agi``, ``linebox-agi.service``: ``Type=notify``, watchdog, journal) is
``appliance.services.agi``, beside the other services.

Why the protocol is spoken here rather than through pyst2 (a dependency already, for AMI): pyst2 0.5.1's
``asterisk.fastagi`` imports Python 2's ``SocketServer`` and cannot be imported on Python 3, and its
``asterisk.agi.AGI`` installs a SIGHUP handler in its constructor, which raises ``ValueError`` in any
thread but the main one, so it cannot serve connections from a threaded server.  No maintained Python
FastAGI library is packaged for Debian.  AGI itself is a line protocol of a few rules (an environment
block, one command a line, ``200 result=...`` replies), so ``protocol`` implements what Linebox uses in
about a hundred lines on the standard library, with a timeout on every read.
"""
