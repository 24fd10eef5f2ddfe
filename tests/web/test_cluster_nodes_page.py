"""Cluster nodes in the console: added one by one as a draft, each change audited, and a wrong field named.

The checks themselves are tests/unit/test_cluster.py's; here the console's form and list, through the real WSGI
server: a node naming a standby that comes next is taken (the edge's address is not set yet), an address that
is not an IPv4 address is refused under its field, and a node's own name as its standby is refused.
"""

from __future__ import annotations

import re

from appliance.model.models import AuditEntry
from appliance.site import service
from tests.web.test_pages import errors_of, form_errors, login


def test_cluster_nodes_are_added_in_the_console_and_audited(console):
    service.save_object("queue", {"number": "500", "name": "Orders", "members": [{"extension": "100"}]}, "test",
                        create=True)
    admin = login(console, "admin")
    page = admin.get("/cluster-nodes/new")
    assert page.status == 200
    done = admin.submit("/cluster-nodes/new", {"name": "node-a", "address": "192.0.2.21", "standby": "node-b",
                                               "queues": "500"})
    assert done.status in (302, 303), form_errors(done.body) or errors_of(done.body)
    stored = service.get_object("cluster_node", "node-a")
    assert stored is not None and stored.queues == ["500"] and stored.standby == "node-b"
    entry = AuditEntry.select().order_by(AuditEntry.id.desc()).get()
    assert (entry.action, entry.kind, entry.key) == ("create", "cluster_node", "node-a")
    listing = admin.get("/cluster-nodes", follow=True)
    assert "node-a" in listing.body and "192.0.2.21" in listing.body

    bad = admin.submit("/cluster-nodes/new", {"name": "node-b", "address": "node-b.example.net",
                                              "standby": "node-a", "queues": ""})
    assert bad.status == 422
    assert any("is not an IPv4 address" in text for text in errors_of(bad.body).values()), errors_of(bad.body)

    itself = admin.submit("/cluster-nodes/new", {"name": "node-c", "address": "192.0.2.23", "standby": "node-c",
                                                 "queues": ""})
    assert itself.status == 422
    said = " ".join([*form_errors(itself.body), *errors_of(itself.body).values()])
    assert re.search(r"cannot be its own standby", said), said
    assert service.get_object("cluster_node", "node-c") is None
