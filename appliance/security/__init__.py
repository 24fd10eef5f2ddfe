"""Keeping guessers out: source addresses banned after failed authentications (``bans``), enforced by
the firewall's nftables sets (``firewall``)."""
