"""Keeping guessers out: source addresses banned after failed authentications (``bans``), enforced by
the firewall's nftables sets (``firewall``).

Why not Debian's fail2ban (which has an Asterisk filter and an nftables action): Linebox must list
bans with why, since and until in its console and CLI, lift them from the console (which runs without
root), write every ban, unban and expiry to its own audit log, and feed console-login and provisioning
guessing into the same bans.  fail2ban keeps its state in its own root-only server and database and
learns of failures by matching log lines; here Asterisk's structured security events (address,
service, account) come over AMI, the other parts call ``bans.record_failure``, the database is the one
truth the console reads, and the service runs as user ``linebox`` with ``CAP_NET_ADMIN`` only.  Bans are
nftables set elements with kernel timeouts, so they lift on time even while no Linebox process runs.
Asterisk's ``security.log`` is still written, for anyone who wants a log-reading tool beside this.
"""
