"""Least privilege on AMI, against the lab's real Asterisk 22: one user per Linebox service.

Every user is refused Originate with Application=System (shell commands as the asterisk user), and
the CLI's "channel originate" through the Command action; each still does its own job with the classes
it has (appliance.asterisk.ami_users), and apply, which logs in as linebox-apply, works.
"""

from __future__ import annotations

import pytest

from appliance.asterisk import ami_users
from appliance.asterisk.ami import AmiError
from appliance.asterisk.status import read_contacts, read_status
from appliance.callcenter import agents
from appliance.support import calls
from appliance.web.app import create_app
from tests.lab.helpers import add

pytestmark = [pytest.mark.lab, pytest.mark.timeout(120)]


def test_no_ami_user_may_run_shell_commands_and_each_does_its_job(pbx):
    add("extension", number="100", name="Agent")
    add("queue", number="700", name="Support")
    pbx.apply()  # as linebox-apply: renders, reloads over Command, checks Asterisk took it
    assert "ext-queues" in pbx.cli("dialplan show ext-queues")
    install = pbx.install
    marker = f"{pbx.instance.inner_dir}/shell-ran"

    for user in ami_users.AMI_USERS:
        with install.connect_ami(timeout=10, user=user.name) as ami:
            with pytest.raises(AmiError) as refused:
                ami.action("Originate", Channel="Local/s@from-internal", Application="System",
                           Data=f"touch {marker}-{user.name}", Async="false", Timeout="5000")
            # linebox-dial may originate, but not System() and its kind (they need the system class too)
            assert any(words in str(refused.value) for words in ("Permission denied", "Forbidden",
                                                                  "additional System privilege")), (
                user.name, str(refused.value))
            # the CLI's channel originate: not loaded (modules.conf), or no command class at all
            with pytest.raises(AmiError) as refused:
                ami.command(f"channel originate Local/s@from-internal application System touch {marker}")
            assert "No such command" in str(refused.value) or "Permission denied" in str(refused.value), (
                user.name, str(refused.value))
    assert "Local/" not in pbx.cli("core show channels concise")
    assert not list(pbx.instance.host_path(pbx.instance.inner_dir).glob("shell-ran*"))

    # and each still does its job
    assert read_status(lambda: install.connect_ami(timeout=10, user=ami_users.CONSOLE)).reachable
    with install.connect_ami(timeout=10, user=ami_users.STATUS) as ami:
        assert read_contacts(ami, 10) == []
    with install.connect_ami(timeout=10, user=ami_users.CONSOLE) as ami:
        agents.login(ami, "test", "100", "700")
        assert [m.queue for m in agents.memberships(ami, "100") if m.member] == ["700"]
    with install.connect_ami(timeout=10, user=ami_users.COLLECTOR) as ami:
        ami.action("QueuePause", Interface="PJSIP/100", Queue="700", Paused="true", Reason="test")
        ami.action("PJSIPQualify", Endpoint="100")  # the phones qualified after Asterisk started again
    with install.connect_ami(timeout=10, user=ami_users.BANS) as ami:
        assert ami.action("Events", EventMask="security").get_header("Response") == "Success"
    with install.connect_ami(timeout=10, user=ami_users.LIVE) as ami:
        assert "Event: QueueMember" in "\n".join(ami.action("QueueStatus", Queue="700").response)
    with install.connect_ami(timeout=10, user=ami_users.CLI) as ami:
        assert calls.active_calls(ami) == []
    assert "paused" in pbx.cli("queue show 700").lower()

    # the console logs in as its own user
    app = create_app(install)
    assert app.extensions["linebox.install"].ami_user == ami_users.CONSOLE
