"""The cluster description (cluster nodes, the edge's address) and what is rendered from it.

The lab test (tests/lab/test_cluster_edge.py) runs the rendered files in a real Kamailio and real Asterisk
nodes; here: the checks word each problem with its object and field, a one-box site is untouched, and the
files hold exactly the site's placement, standbys and secrets, whatever a name holds.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from appliance import config_file
from appliance.errors import SiteError
from appliance.provisioning import cluster, escape
from appliance.site import schemas, service
from appliance.site.checks import Site, check_site
from tests.conftest import REFERENCE_SITE

SITE = """
linebox: 1
settings:
  cluster_edge: 198.51.100.1
extensions:
- {number: '201', name: Caller, password: CallerSecretAbc123}
- {number: '202', name: Agent, password: AgentSecretXyz789}
- {number: '203', name: Agent two, password: AgentSecretQrs456}
trunks:
- {name: telco, host: 203.0.113.5}
- {name: telco-b, host: sip.example.net, match: [203.0.113.16/28, 203.0.113.40]}
- {name: by-name, host: sip.example.org}
inbound_routes:
- {name: support-line, did: '4005550100', destination: 'queue:702'}
- {name: any-other, did: '_400555XXXX', destination: 'queue:701'}
- {name: to-agent, did: '+864005550203', destination: 'extension:203'}
queues:
- {number: '701', name: Orders, members: [{extension: '203'}]}
- {number: '702', name: Support, members: [{extension: '202'}]}
cluster_nodes:
- {name: a, address: 192.0.2.2, standby: b, queues: ['701']}
- {name: b, address: 192.0.2.6, standby: a, queues: ['702']}
"""


def refused(text: str) -> list[str]:
    with pytest.raises(SiteError) as caught:
        config_file.import_text(text, user="test")
    return [str(problem) for problem in caught.value.problems]


def test_a_cluster_is_imported_and_exported(install):
    config_file.import_text(SITE, user="test")
    site = service.snapshot()
    assert [node.name for node in cluster.nodes(site)] == ["a", "b"]
    assert site.settings.cluster_edge == "198.51.100.1"
    exported = config_file.export_text()
    assert "cluster_nodes:" in exported and "cluster_edge: 198.51.100.1" in exported
    assert config_file.import_text(exported, user="test").counts["updated"] == 0


def test_each_problem_names_its_object_and_field(install):
    text = SITE.replace("standby: b, queues: ['701']", "standby: a, queues: ['701', '799']") \
               .replace("standby: a, queues: ['702']", "standby: c, queues: ['702', '701']") \
               .replace("members: [{extension: '202'}]", "members: [{extension: '202'}, {extension: '203'}]") \
               .replace("address: 192.0.2.6", "address: 192.0.2.2")
    text += "- {name: c2, address: 198.51.100.1, standby: a}\n"
    problems = refused(text)
    assert any("cluster node a standby: a node cannot be its own standby" in p for p in problems), problems
    assert any("cluster node a queues: queue 799 does not exist" in p for p in problems), problems
    assert any("cluster node b standby: cluster node c does not exist" in p for p in problems), problems
    assert any("cluster node b address: 192.0.2.2 is already the address of cluster node a" in p
               for p in problems), problems
    assert any("cluster node c2 address: 198.51.100.1 is already the address of the edge" in p
               for p in problems), problems
    assert any("cluster node b queues: queue 701 is already placed on cluster node a" in p for p in problems), problems
    assert any("extension 203: an agent's queues must share a cluster node; this agent answers queues 701 (a), "
               "702 (b)" in p for p in problems), problems
    assert all(re.match(r"line \d+: ", p) for p in problems), problems  # each with its line in the file
    assert service.snapshot().of("cluster_node") == []  # nothing written


def test_with_an_edge_every_queue_is_placed_and_every_standby_exists(install):
    unplaced = SITE.replace("queues: ['702']}", "queues: []}")
    assert any("queue 702: the queue is placed on no cluster node" in p for p in refused(unplaced))
    # without the edge's address the nodes are a draft: a standby may be added later, a queue placed later
    draft = SITE.replace("  cluster_edge: 198.51.100.1\n", "").replace("standby: a,", "standby: c,")
    config_file.import_text(draft.replace("queues: ['702']}", "queues: []}"), user="test")
    assert not cluster.is_cluster(service.snapshot())
    no_nodes = SITE.split("cluster_nodes:")[0] + "cluster_nodes: []\n"
    assert any("settings cluster_edge: multi-node mode needs at least one cluster node" in p
               for p in refused(no_nodes))


@pytest.mark.parametrize("field, value", [
    ("address", "192.0.2.2\n[x]"), ("address", "host.example.net"), ("address", "192.0.2.300"),
    ("name", "A;b"), ("standby", "b\n[x]"), ("queues", ["70;1"]),
])
def test_strict_fields_refuse_what_could_reach_a_file(field, value):
    data = {"name": "a", "address": "192.0.2.2", "standby": "b", "queues": ["701"], field: value}
    with pytest.raises(ValidationError):
        schemas.ClusterNode.model_validate(data)


def test_one_box_has_no_cluster(install):
    site = config_file.parse_text(REFERENCE_SITE.read_text(encoding="utf-8"))
    assert not cluster.is_cluster(site) and not [p for p in check_site(site) if "cluster" in p.where]
    with pytest.raises(ValueError):
        cluster.render_edge(site)


def _site() -> Site:
    return config_file.parse_text(SITE)


def test_dispatcher_list_puts_each_node_first_and_its_standby_after():
    lines = [line for line in cluster.render_edge(_site())["dispatcher.list"].splitlines()
             if line and not line.startswith("#")]
    assert lines == ["1 sip:192.0.2.2:5060 0 10 duid=a", "1 sip:192.0.2.6:5060 0 5 duid=b",
                     "2 sip:192.0.2.6:5060 0 10 duid=b", "2 sip:192.0.2.2:5060 0 5 duid=a"]


def test_the_edge_routes_queues_and_agents_to_their_node_and_knows_each_password():
    config = cluster.render_edge(_site(), edge_dir="/srv/edge")["kamailio.cfg"]
    assert "listen=udp:198.51.100.1:5060" in config
    assert 'modparam("dispatcher", "list_file", "/srv/edge/dispatcher.list")' in config
    placed = dict(re.findall(r"\$sht\(placement=>([+\d]+)\) = (\d+);", config))
    # queues, their agents, and the exact DIDs of inbound routes to them (a DID pattern is not placed)
    assert placed == {"701": "1", "702": "2", "202": "2", "203": "1", "4005550100": "2", "+864005550203": "1"}
    # carriers known by an IPv4 address call without a password; a network or a host name is not taken yet
    assert re.findall(r"\$sht\(trunks=>([0-9.]+)\) = 1;", config) == ["203.0.113.40", "203.0.113.5"]
    secrets = dict(re.findall(r'\$sht\(secrets=>(\d+)\) = "([^"]*)";', config))
    assert secrets == {"201": "CallerSecretAbc123", "202": "AgentSecretXyz789", "203": "AgentSecretQrs456"}
    assert 'ds_select_dst("$var(set)", "8")' in config and "ds_next_dst()" in config


def test_a_node_trusts_the_edge_alone():
    text = cluster.render_node_pjsip(_site(), "b")
    assert "deny = 0.0.0.0/0.0.0.0\npermit = 198.51.100.1/255.255.255.255" in text
    assert "type = identify\nendpoint = linebox-edge\nmatch = 198.51.100.1" in text
    assert "[202]\ntype = aor\ncontact = sip:202@198.51.100.1:5060" in text
    with pytest.raises(ValueError):
        cluster.render_node_pjsip(_site(), "nowhere")


def _structure(text: str) -> list[str]:
    """Every line of an Asterisk config file less its comment: what Asterisk reads."""
    return [re.sub(r"(?<!\\);.*", "", line) for line in text.splitlines()]


@settings(max_examples=150, deadline=None)
@given(name=st.text(min_size=1, max_size=40))
def test_a_name_never_changes_what_the_node_reads(name):
    site = _site()
    try:
        named = schemas.Extension(number="201", name=name, password="CallerSecretAbc123")
    except ValidationError:
        return  # refused, with an error naming the field
    site.objects["extension"] = [named, *site.of("extension")[1:]]
    plain = _site()
    assert _structure(cluster.render_node_pjsip(site, "a")) == _structure(cluster.render_node_pjsip(plain, "a"))
    assert cluster.render_edge(site) == cluster.render_edge(plain)


@given(text=st.text(max_size=60))
def test_kamailio_strings_cannot_end_early(text):
    value = escape.kamailio_string(text)
    assert '"' not in value and "\\" not in value and "\n" not in value and "\r" not in value


def test_linebox_cluster_render_writes_every_file(install, tmp_path):
    from click.testing import CliRunner

    from appliance.cli.linebox import main

    home = str(install.home)
    one_box = CliRunner().invoke(main, ["--home", home, "cluster", "render", str(tmp_path / "out")])
    assert one_box.exit_code == 1 and "one box" in one_box.output
    config_file.import_text(SITE, user="test")
    done = CliRunner().invoke(main, ["--home", home, "cluster", "render", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["edge/dispatcher.list", "edge/kamailio.cfg", "nodes/a/pjsip_edge.conf",
                       "nodes/b/pjsip_edge.conf"]
    assert (tmp_path / "out" / "edge" / "kamailio.cfg").stat().st_mode & 0o007 == 0
