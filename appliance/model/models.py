"""Peewee models: one table per kind of site object, plus settings, users and the audit log.

Scalar attributes are real columns (searchable, indexable); ordered lists
that only ever travel with their owner (dial patterns, trunk failover order,
ring group members, time ranges) are JSON columns.  Cross-references between
objects (destinations, trunk names) are checked by ``appliance.site.checks``
before anything is stored or applied.

Every model is bound to ``database``, one process-wide peewee ``DatabaseProxy`` defined here, beside
the models it serves, so that this module needs nothing above it: ``appliance.model.database`` opens
a file into the proxy and migrates it (``appliance.model.migrations``, which creates these tables).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import peewee

from appliance.model.sealed import SealedField

# Bound to whichever file the appliance, the CLI or a test opens (``appliance.model.database``).
database = peewee.DatabaseProxy()


class JSONField(peewee.TextField):
    """A list or dict stored as canonical JSON text."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(peewee.Model):
    class Meta:
        database = database


class Setting(BaseModel):
    """Site-wide settings and per-install secrets (AMI secret, ...), as key/value rows."""

    key = peewee.CharField(primary_key=True)
    value = peewee.TextField()


class Extension(BaseModel):
    number = peewee.CharField(unique=True)
    name = peewee.CharField(index=True)
    password = SealedField()  # sealed at rest (appliance.model.sealed), like every secret column
    voicemail = peewee.BooleanField(default=False)
    voicemail_pin = SealedField(default="")
    email = peewee.CharField(default="")
    recording = peewee.CharField(default="never")
    ring_seconds = peewee.IntegerField(default=25)
    department = peewee.CharField(default="", index=True, constraints=[peewee.SQL("DEFAULT ''")])
    permitted_networks = JSONField(default=list)  # empty: the site's local_networks
    encryption = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])  # "": the site's
    options = JSONField(default=dict)
    accepted_risks = JSONField(default=list)
    # The dial guard (appliance.billing.guard): which number classes it may call ("": the site's default),
    # how many outbound calls at once, outbound minutes a day and a month, money a month (decimal text in
    # the rates' currency).  0 or "": no limit of its own.
    dial_permission = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    max_outbound_calls = peewee.IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
    daily_minutes = peewee.FloatField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
    monthly_minutes = peewee.FloatField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
    monthly_budget = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])


class Trunk(BaseModel):
    name = peewee.CharField(unique=True)
    registration = peewee.BooleanField(default=False)
    host = peewee.CharField()
    port = peewee.IntegerField(default=5060)
    username = peewee.CharField(default="")
    password = SealedField(default="")
    codecs = JSONField(default=list)
    max_channels = peewee.IntegerField(default=0)
    match = JSONField(default=list)
    qualify_seconds = peewee.IntegerField(default=30)
    failover_seconds = peewee.FloatField(default=2.0)
    transport = peewee.CharField(default="udp", constraints=[peewee.SQL("DEFAULT 'udp'")])
    tls_ca = peewee.TextField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    encryption = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])  # "": the site's
    options = JSONField(default=dict)
    accepted_risks = JSONField(default=list)


class InboundRoute(BaseModel):
    name = peewee.CharField(unique=True)
    did = peewee.CharField(default="")
    cid = peewee.CharField(default="")
    destination = peewee.CharField()


class OutboundRoute(BaseModel):
    name = peewee.CharField(unique=True)
    position = peewee.IntegerField(default=0)
    patterns = JSONField(default=list)
    trunks = JSONField(default=list)
    caller_id = peewee.CharField(default="")
    caller_id_name = peewee.CharField(default="")
    least_cost = peewee.BooleanField(default=False)


class RingGroup(BaseModel):
    number = peewee.CharField(unique=True)
    name = peewee.CharField()
    strategy = peewee.CharField(default="ringall")
    members = JSONField(default=list)
    ring_seconds = peewee.IntegerField(default=20)
    fallback = peewee.CharField(default="hangup")


class TimeCondition(BaseModel):
    name = peewee.CharField(unique=True)
    timezone = peewee.CharField(default="UTC")
    ranges = JSONField(default=list)
    holidays = JSONField(default=list)
    open_destination = peewee.CharField()
    closed_destination = peewee.CharField()


class VoicemailBox(BaseModel):
    number = peewee.CharField(unique=True)
    name = peewee.CharField()
    pin = SealedField()
    email = peewee.CharField(default="")


class MohClass(BaseModel):
    name = peewee.CharField(unique=True)
    directory = peewee.CharField()
    sort = peewee.CharField(default="random")


class Announcement(BaseModel):
    name = peewee.CharField(unique=True)
    sound = peewee.CharField()
    destination = peewee.CharField(default="hangup")


class Robot(BaseModel):
    """A voice FAQ robot (``appliance.site.schemas.Robot``); its entries are a JSON list like an IVR's options."""

    name = peewee.CharField(unique=True)
    language = peewee.CharField(default="en")
    entries = JSONField(default=list)
    handover = peewee.CharField(default="hangup")
    fallback = peewee.CharField(default="hangup")


class RobotCall(BaseModel):
    """One call the robot service handled, keyed by the AudioSocket UUID the dialplan gave it.

    linebox-robot.service writes it while the call talks to the robot; once the robot lets the call go, the
    dialplan asks the FastAGI script ``robot`` for the row and goes where ``next`` says (``appliance.robot``).
    ``transcript`` is what the recogniser heard, utterance by utterance; ``entry`` the last entry answered
    (-1 none); ``outcome`` answered | handover | hangup."""

    uuid = peewee.CharField(unique=True)
    uniqueid = peewee.CharField(default="", index=True)  # the caller's channel (the FastAGI script's agi_uniqueid)
    robot = peewee.CharField()
    started = peewee.FloatField()
    ended = peewee.FloatField(null=True)
    transcript = peewee.TextField(default="")
    entry = peewee.IntegerField(default=-1)
    outcome = peewee.CharField(default="")
    next = peewee.CharField(default="")  # the extension of the robot's context the call goes on to


class ClusterNode(BaseModel):
    """An Asterisk node behind the Kamailio edge (``appliance.site.schemas.ClusterNode``); ``queues`` a JSON list
    of the numbers of the queues that live on it."""

    name = peewee.CharField(unique=True)
    address = peewee.CharField()
    standby = peewee.CharField()
    queues = JSONField(default=list)


class Ivr(BaseModel):
    name = peewee.CharField(unique=True)
    greeting = peewee.CharField(default="")
    greeting_text = peewee.TextField(default="")  # spoken by espeak-ng when set
    greeting_voice = peewee.CharField(default="en")
    options = JSONField(default=list)
    timeout_seconds = peewee.IntegerField(default=5)
    invalid_retries = peewee.IntegerField(default=2)  # the menu again after a wrong key, this many times
    timeout_retries = peewee.IntegerField(default=2)  # ... and after no key: counted apart
    invalid_sound = peewee.CharField(default="invalid")
    direct_dial = peewee.BooleanField(default=False)
    language = peewee.CharField(default="")  # the prompts' language ("": the site's)
    timeout_destination = peewee.CharField(default="hangup")
    invalid_destination = peewee.CharField(default="hangup")


class Queue(BaseModel):
    number = peewee.CharField(unique=True)
    name = peewee.CharField()
    strategy = peewee.CharField(default="rrmemory")
    members = JSONField(default=list)
    escalation = JSONField(default=list)
    agent_ring_seconds = peewee.IntegerField(default=15)
    wrapup_seconds = peewee.IntegerField(default=10)
    max_wait_seconds = peewee.IntegerField(default=300)
    max_callers = peewee.IntegerField(default=0)
    overflow = peewee.CharField(default="hangup")
    announce_position = peewee.BooleanField(default=True)
    announce_every_seconds = peewee.IntegerField(default=60)
    moh_class = peewee.CharField(default="default")
    exit_voicemail = peewee.CharField(default="")
    recording = peewee.CharField(default="never")
    autopause_after_missed = peewee.IntegerField(default=0)
    service_level_seconds = peewee.IntegerField(default=20)
    service_level_target = peewee.IntegerField(default=80)
    language = peewee.CharField(default="")  # the announcements' language ("": the site's)
    # the queue's wrap-up codes ([{"name": ...}]) and whether an agent must choose one before the next call
    dispositions = JSONField(default=list, constraints=[peewee.SQL("DEFAULT '[]'")])
    disposition_required = peewee.BooleanField(default=False, constraints=[peewee.SQL("DEFAULT FALSE")])
    callback = peewee.BooleanField(default=False, constraints=[peewee.SQL("DEFAULT FALSE")])
    callback_offer_seconds = peewee.IntegerField(default=30, constraints=[peewee.SQL("DEFAULT 30")])
    callback_retries = peewee.IntegerField(default=2, constraints=[peewee.SQL("DEFAULT 2")])
    callback_retry_seconds = peewee.IntegerField(default=120, constraints=[peewee.SQL("DEFAULT 120")])
    # the wallboard's alerts (appliance.callcenter.alerts); 0: that alert is off
    alert_longest_wait_seconds = peewee.IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
    alert_callers_waiting = peewee.IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
    alert_min_agents = peewee.IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
    # after the agent hangs up, the caller rates the call 1-5 (appliance.callcenter.survey)
    survey = peewee.BooleanField(default=False, constraints=[peewee.SQL("DEFAULT FALSE")])


CALL_CENTER_TABLES = [Ivr, Queue]


class SlaBreach(BaseModel):
    """One SLA alert of a queue (``appliance.callcenter.alerts``): when it started and, once the queue is
    back within its threshold, when it cleared.  Kept so a wallboard opened later, or a console restarted,
    shows when a breach still going on started."""

    queue = peewee.CharField(index=True)
    kind = peewee.CharField()  # service_level, longest_wait, callers_waiting, min_agents
    started = peewee.FloatField(index=True)  # epoch seconds
    cleared = peewee.FloatField(null=True, index=True)
    value = peewee.FloatField(default=0)  # the figure when it started
    threshold = peewee.FloatField(default=0)


ALERT_TABLES = [SlaBreach]


class QueueEvent(BaseModel):
    """One queue_log line, as Asterisk wrote it; the unique index makes re-reading a file harmless."""

    time = peewee.IntegerField(index=True)
    callid = peewee.CharField(index=True)
    queue = peewee.CharField(index=True)
    agent = peewee.CharField()
    event = peewee.CharField(index=True)
    data = peewee.TextField(default="")

    class Meta:
        indexes = ((("time", "callid", "queue", "agent", "event", "data"), True),)


class QueueCall(BaseModel):
    """One caller's stay in one queue, derived from its events: what the KPIs are computed from."""

    callid = peewee.CharField()
    queue = peewee.CharField(index=True)
    entered = peewee.IntegerField(index=True)
    caller = peewee.CharField(default="", index=True)
    # answered, abandoned, timeout, exitkey, exitempty, interrupted (by a restart of Asterisk)
    outcome = peewee.CharField(default="waiting", index=True)
    wait_seconds = peewee.IntegerField(default=0)
    talk_seconds = peewee.IntegerField(default=0)
    agent = peewee.CharField(default="", index=True)
    ended_by = peewee.CharField(default="")  # caller / agent / transfer / restart (Asterisk started again)
    # Seconds until the same caller called the same queue again (none yet: NULL): the FCR proxy.
    next_call_seconds = peewee.IntegerField(null=True)

    class Meta:
        indexes = (
            (("callid", "queue"), True),
            (("queue", "caller", "entered"), False),
            (("caller", "entered"), False),  # a caller's history in the agent's screen pop, newest first
            # covering index for the KPI aggregates: a report reads the index, never the table
            (("entered", "queue", "outcome", "wait_seconds", "talk_seconds", "next_call_seconds", "agent"), False),
        )


class CallRecord(BaseModel):
    """A CDR row copied from Asterisk's cdr database (keyed by uniqueid and sequence)."""

    uniqueid = peewee.CharField()
    sequence = peewee.IntegerField()
    linkedid = peewee.CharField(index=True)
    start = peewee.CharField(index=True)
    answer = peewee.CharField(default="")
    end = peewee.CharField(default="")
    src = peewee.CharField(default="", index=True)
    dst = peewee.CharField(default="", index=True)
    dcontext = peewee.CharField(default="")
    channel = peewee.CharField(default="")
    dstchannel = peewee.CharField(default="")
    lastapp = peewee.CharField(default="")
    duration = peewee.IntegerField(default=0)
    billsec = peewee.IntegerField(default=0)
    disposition = peewee.CharField(default="", index=True)
    userfield = peewee.CharField(default="")
    # An outbound leg's calling extension (from its channel: what cost reports group by), its trunk and the
    # number sent to it (from the dialplan's userfield and Dial's argument), and its price
    # (appliance.billing.calls): the number's class, the cost in the currency's smallest unit (an integer,
    # so sums are exact; NULL when no rate priced it), the currency, the seconds the month's bundle paid and
    # the rate line that priced it.  Text columns have the database's own defaults, as migration 21 adds
    # them: the collector's raw INSERT names only the columns it copies, and INSERT OR IGNORE would drop a
    # row that broke NOT NULL.
    extension = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    trunk = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    number = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    number_class = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    cost_minor = peewee.IntegerField(null=True)  # in the currency's smallest unit (fen, cent); NULL: no rate
    currency = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    free_seconds = peewee.IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
    rate_key = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    # An inbound leg (the caller's channel came in on a SIP trunk): that trunk, and what its carrier charges
    # for receiving the call where its rate table has an ``inbound`` line (appliance.billing.calls); NULL: no
    # inbound charge.  Apart from the outbound price: one record may be both (a call forwarded out).
    inbound_trunk = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    inbound_cost_minor = peewee.IntegerField(null=True)
    inbound_currency = peewee.CharField(default="", constraints=[peewee.SQL("DEFAULT ''")])

    class Meta:
        indexes = ((("uniqueid", "sequence"), True),)


class CallNote(BaseModel):
    """What the agent wrote about a queue call: its disposition (one of the queue's wrap-up codes) and a note.

    Keyed by ``callid``: the caller's channel uniqueid, the call's id in queue_log (``QueueCall.callid``) and in
    the agent's screen pop, so a note saved while the phone still rings is there before the collector has the
    call; ``linkedid`` groups it with the call's other legs."""

    callid = peewee.CharField(unique=True)
    linkedid = peewee.CharField(default="", index=True)
    queue = peewee.CharField(index=True)
    agent = peewee.CharField(default="", index=True)
    disposition = peewee.CharField(default="", index=True)
    note = peewee.TextField(default="")
    user = peewee.CharField(default="")
    saved = peewee.DateTimeField(default=utcnow)


class MissedCall(BaseModel):
    """A queue call the caller gave up on or that found no agent, kept for the follow-up list
    (``appliance.callcenter.missed``): one row per missed queue stay, closed when the customer is reached.

    ``number``: the caller's number as the phonebook writes it (normalised), so every miss of one customer
    in one queue shows as one entry however Asterisk wrote the number; ``position``: where the caller was
    in the queue when they left it (queue_log's exit event)."""

    callid = peewee.CharField()
    queue = peewee.CharField(index=True)
    caller = peewee.CharField()
    number = peewee.CharField(index=True)
    entered = peewee.IntegerField(index=True)
    # abandoned, timeout, exitempty (QueueCall's outcome), callback_failed (every try of a callback failed)
    outcome = peewee.CharField()
    wait_seconds = peewee.IntegerField(default=0)
    position = peewee.IntegerField(default=0)
    status = peewee.CharField(default="open", index=True)  # open, claimed, closed
    claimed_by = peewee.CharField(default="")
    claimed = peewee.IntegerField(null=True)  # epoch seconds
    closed = peewee.IntegerField(null=True)  # epoch seconds
    # called_again (the customer called in and was answered), reached (an answered call to the number),
    # dismissed (closed by hand)
    closed_reason = peewee.CharField(default="")
    closed_by = peewee.CharField(default="")  # the call (linkedid) that reached the customer, or the user

    class Meta:
        indexes = ((("callid", "queue"), True), (("status", "queue", "number"), False))


class CollectorState(BaseModel):
    """How far each source has been read (file identity and offset, or last CDR row id and that row's call id)."""

    source = peewee.CharField(primary_key=True)
    position = peewee.IntegerField(default=0)
    identity = peewee.CharField(default="")


class CallEvent(BaseModel):
    """A CEL row copied from Asterisk's CEL database: a channel's start or answer, or a call's end.

    A call (its ``linkedid``) with no ``LINKEDID_END`` when Asterisk started again was cut by the
    restart: its CDR was never written, and the collector records it as ``INTERRUPTED`` from these."""

    eventtype = peewee.CharField()
    eventtime = peewee.FloatField(index=True)  # epoch seconds, as Asterisk wrote it
    uniqueid = peewee.CharField()
    linkedid = peewee.CharField(index=True)
    cidnum = peewee.CharField(default="")
    exten = peewee.CharField(default="")
    context = peewee.CharField(default="")
    channel = peewee.CharField(default="")
    peer = peewee.CharField(default="")

    class Meta:
        indexes = ((("uniqueid", "eventtype", "eventtime"), True),)


COLLECTOR_TABLES = [QueueEvent, QueueCall, CallRecord, CollectorState, CallEvent, CallNote, MissedCall]


class WebhookDelivery(BaseModel):
    """One call event for the admin's webhook receiver (``appliance.callcenter.webhooks``): the delivery log.

    Written when the event happens (only while a webhook URL is configured), sent by linebox-webhooks.service
    in ``id`` order with the exact ``body`` signed; ``status`` pending → delivered, or failed once the retries
    are spent.  ``next_attempt`` is when a pending row is tried next (epoch seconds)."""

    event = peewee.CharField()
    call = peewee.CharField(default="", index=True)
    url = peewee.CharField()
    body = peewee.TextField()
    created = peewee.FloatField()
    status = peewee.CharField(default="pending", index=True)
    attempts = peewee.IntegerField(default=0)
    next_attempt = peewee.FloatField(default=0)
    last_status = peewee.IntegerField(default=0)  # the receiver's HTTP status, 0: no answer
    last_error = peewee.CharField(default="")
    delivered = peewee.FloatField(null=True)


class QueueDayStat(BaseModel):
    """Daily roll-up of ``QueueCall`` for whole past days, so a month's report reads a few thousand rows
    instead of a million calls.  Keeping waits as a histogram (one row per wait in seconds) keeps every
    threshold exact: a report may ask for any service-level or short-abandon threshold.  Rows with the
    outcome ``repeat`` are the FCR histogram: answered calls of known callers, by hours (rounded up)
    until that caller called the same queue again."""

    day = peewee.CharField()  # YYYY-MM-DD, UTC
    queue = peewee.CharField()
    outcome = peewee.CharField()  # a QueueCall outcome, or "repeat"
    seconds = peewee.IntegerField()  # the wait in seconds; for "repeat", hours until the next call
    calls = peewee.IntegerField(default=0)
    talk_seconds = peewee.IntegerField(default=0)
    known_callers = peewee.IntegerField(default=0)  # calls with a caller number (the FCR denominator)

    class Meta:
        indexes = ((("day", "queue", "outcome", "seconds"), True),)


class AgentDayStat(BaseModel):
    """Daily roll-up of answered calls per agent and queue (whole past days only)."""

    day = peewee.CharField()
    queue = peewee.CharField()
    agent = peewee.CharField()
    answered = peewee.IntegerField(default=0)
    talk_seconds = peewee.IntegerField(default=0)
    wait_seconds = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("day", "queue", "agent"), True),)


class HourStat(BaseModel):
    """Calls offered and answered per UTC hour and queue (whole past days only)."""

    hour = peewee.CharField()  # YYYY-MM-DD HH
    queue = peewee.CharField()
    offered = peewee.IntegerField(default=0)
    answered = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("hour", "queue"), True),)


ROLLUP_TABLES = [QueueDayStat, AgentDayStat, HourStat]


class User(BaseModel):
    """A console user; the password is stored only as an argon2 hash."""

    username = peewee.CharField(unique=True)
    password_hash = peewee.CharField()
    role = peewee.CharField(default="admin")
    must_change_password = peewee.BooleanField(default=False)
    created = peewee.DateTimeField(default=utcnow)
    # the console's language for this user ("en", "zh_CN"); "" follows the browser's Accept-Language
    language = peewee.CharField(default="")


class AuditEntry(BaseModel):
    """Who changed what, when: one row per change, with the object before and after."""

    when = peewee.DateTimeField(default=utcnow, index=True)
    user = peewee.CharField(index=True)
    action = peewee.CharField()
    kind = peewee.CharField(index=True)
    key = peewee.CharField()
    before = JSONField(null=True)
    after = JSONField(null=True)


class ApiToken(BaseModel):
    """A REST API token bound to a user (whose role it acts with); only its SHA-256 is stored."""

    token_hash = peewee.CharField(unique=True)
    user = peewee.ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    name = peewee.CharField()
    created = peewee.DateTimeField(default=utcnow)
    last_used = peewee.DateTimeField(null=True)
    expires = peewee.DateTimeField(null=True)  # None: never (tokens made before expiry existed)

    class Meta:
        indexes = ((("user", "name"), True),)


class ConsoleSession(BaseModel):
    """A logged-in console session: the browser's cookie names it by a random token, stored here only hashed.

    Deleting the row ends the session (log out, password or role change, user deleted)."""

    token_hash = peewee.CharField(unique=True)
    user = peewee.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created = peewee.DateTimeField(default=utcnow)
    last_seen = peewee.DateTimeField(default=utcnow)
    address = peewee.CharField(default="")


class ThrottleFailure(BaseModel):
    """One failed attempt counted by a throttle rule (``appliance.access.throttle``): kept across restarts."""

    scope = peewee.CharField()  # the rule: login-address, login-user-address, provision-address
    key = peewee.CharField()
    when = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("scope", "key", "when"), False),)


class ThrottleLock(BaseModel):
    """A rule's key refused until ``until`` (UTC)."""

    scope = peewee.CharField()
    key = peewee.CharField()
    until = peewee.DateTimeField()

    class Meta:
        indexes = ((("scope", "key"), True),)


SESSION_TABLES = [ConsoleSession, ThrottleFailure, ThrottleLock]


SITE_TABLES = [Extension, Trunk, InboundRoute, OutboundRoute, RingGroup, TimeCondition,
               VoicemailBox, MohClass, Announcement]
# The tables schema version 1 created; later tables are created by their own migration step.
ALL_TABLES = [Setting, *SITE_TABLES, User, AuditEntry]


class Gateway(BaseModel):
    """An adopted FXO/FXS SIP gateway, known by its MAC address (12 lowercase hex digits)."""

    mac = peewee.CharField(unique=True)
    model = peewee.CharField()  # an id from hardware/data/gateways.yaml
    name = peewee.CharField(default="")
    address = peewee.CharField(default="")  # its LAN address: the far end of the trunk for its FXO ports
    created = peewee.DateTimeField(default=utcnow)
    last_provisioned = peewee.DateTimeField(null=True)
    # the gateway's own provisioning credential, written into its file's URL; asked for on every later fetch
    credential = SealedField(default="")
    # while set and in the future, one fetch without the credential is served (and closes it): the adoption window
    adoption_until = peewee.DateTimeField(null=True)
    bound_address = peewee.CharField(default="")  # the address whose fetch used the window


class GatewayPort(BaseModel):
    """One analog port: an FXS port registers as ``extension``; an FXO port is reached through ``trunk``."""

    gateway = peewee.ForeignKeyField(Gateway, backref="ports", on_delete="CASCADE")
    number = peewee.IntegerField()
    kind = peewee.CharField()  # fxs / fxo
    extension = peewee.CharField(default="", index=True)
    trunk = peewee.CharField(default="", index=True)

    class Meta:
        indexes = ((("gateway", "number"), True),)


class ProvisioningRequest(BaseModel):
    """One request for a provisioning file: who asked for what, and whether it was served."""

    when = peewee.DateTimeField(default=utcnow, index=True)
    mac = peewee.CharField(default="", index=True)
    file = peewee.CharField()
    address = peewee.CharField(default="")
    user_agent = peewee.CharField(default="")
    known = peewee.BooleanField(default=False, index=True)
    status = peewee.IntegerField(default=0)


GATEWAY_TABLES = [Gateway, GatewayPort, ProvisioningRequest]


class DahdiTrunk(BaseModel):
    """A DAHDI trunk group: FXO ports and/or PRI spans dialled as one ``DAHDI/g<N>`` trunk."""

    name = peewee.CharField(unique=True)
    group = peewee.IntegerField(unique=True)
    hunting = peewee.CharField(default="ascending")
    destination = peewee.CharField(default="inbound_routes")
    caller_id = peewee.CharField(default="")
    max_channels = peewee.IntegerField(default=0)


class AnalogPort(BaseModel):
    """One analog port of a card, by its DAHDI channel: FXS → an extension, FXO → a DAHDI trunk."""

    channel = peewee.IntegerField(unique=True)
    kind = peewee.CharField()  # fxs / fxo
    card = peewee.CharField(default="")  # inventory key (pci:0000:04:00.0), hardware id or @devpath
    port = peewee.IntegerField(default=0)
    extension = peewee.CharField(default="", index=True)
    trunk = peewee.CharField(default="", index=True)
    echo_cancel = peewee.BooleanField(default=True)


class Span(BaseModel):
    """One E1/T1 span used as a PRI trunk: on a card, or a dynamic local (``loc``) span."""

    span = peewee.IntegerField(unique=True)
    source = peewee.CharField(default="card")  # card / loc
    card = peewee.CharField(default="")
    local_span = peewee.IntegerField(default=1)
    loc = peewee.CharField(default="")  # key:id of a dahdi_dynamic_loc span
    line_type = peewee.CharField(default="e1")
    switch_type = peewee.CharField(default="euroisdn")
    framing = peewee.CharField(default="ccs")
    coding = peewee.CharField(default="hdb3")
    crc4 = peewee.BooleanField(default=True)
    timing = peewee.IntegerField(default=1)
    lbo = peewee.IntegerField(default=0)
    side = peewee.CharField(default="cpe")
    trunk = peewee.CharField(default="", index=True)
    echo_cancel = peewee.BooleanField(default=True)


DAHDI_TABLES = [DahdiTrunk, AnalogPort, Span]


class Contact(BaseModel):
    """A phonebook entry: who calls (caller-name lookup, screen pop).  Not a site object: no apply needed."""

    name = peewee.CharField(index=True)
    company = peewee.CharField(default="")
    note = peewee.TextField(default="")
    created = peewee.DateTimeField(default=utcnow)


class ContactNumber(BaseModel):
    """One of a contact's numbers: as typed, and normalised (``appliance.phonebook.numbers``) for matching."""

    contact = peewee.ForeignKeyField(Contact, backref="numbers", on_delete="CASCADE")
    number = peewee.CharField()
    normalized = peewee.CharField(index=True)
    position = peewee.IntegerField(default=0)


CONTACT_TABLES = [Contact, ContactNumber]


class Ban(BaseModel):
    """A source address the firewall drops (``appliance.security.bans``): why, since and until when.

    Rows stay after the ban ends (``ended``, ``ended_by``: "expired" or who lifted it): the history makes the
    next ban of the same address longer, and shows the technician who has been knocking."""

    source = peewee.CharField(index=True)
    reason = peewee.CharField()
    failures = peewee.IntegerField(default=0)
    by = peewee.CharField(default="")
    since = peewee.DateTimeField(default=utcnow, index=True)
    until = peewee.DateTimeField(index=True)
    ended = peewee.DateTimeField(null=True, index=True)
    ended_by = peewee.CharField(default="")


class AuthFailure(BaseModel):
    """One failed authentication (or request to an unknown account) from a source: what bans count."""

    source = peewee.CharField(index=True)
    service = peewee.CharField()  # PJSIP, AMI, console, ...
    reason = peewee.CharField()
    account = peewee.CharField(default="")
    when = peewee.DateTimeField(default=utcnow, index=True)


SECURITY_TABLES = [Ban, AuthFailure]


class Rate(BaseModel):
    """One line of a trunk's rate table (``appliance.billing.rates``): what a call through the trunk to a
    number with this prefix (or of this class) costs, in force from ``valid_from`` until the trunk's next
    table.  Money is kept as decimal text, never as a float."""

    trunk = peewee.CharField()
    valid_from = peewee.DateField()
    prefix = peewee.CharField(default="")  # digits; "" with a class: every number of that class
    number_class = peewee.CharField(default="")  # appliance.site.numbering.NumberClass value, or ""
    per_minute = peewee.CharField()  # decimal text, e.g. "0.1500"
    first_seconds = peewee.IntegerField(default=60)  # billing increment: the first unit ...
    next_seconds = peewee.IntegerField(default=60)  # ... then units of this many seconds
    connection_fee = peewee.CharField(default="0")  # decimal text, charged once per answered call
    free_minutes = peewee.IntegerField(default=0)  # free minutes per calendar month (a bundle)
    currency = peewee.CharField(default="CNY")
    description = peewee.CharField(default="")

    class Meta:
        indexes = ((("trunk", "valid_from", "prefix", "number_class"), True),)


class CostDay(BaseModel):
    """The priced calls of one day summed per extension, trunk or number class, and the answered calls no
    rate priced (``dimension`` "unpriced"): what cost reports read, kept up to date as calls are priced
    (``appliance.billing.calls``), so a month's report sums a few thousand rows, not a million records."""

    day = peewee.CharField()  # "2026-12-07", the call record's start day
    dimension = peewee.CharField()  # extension, trunk, class, unpriced
    key = peewee.CharField()
    currency = peewee.CharField()
    calls = peewee.IntegerField(default=0)
    seconds = peewee.IntegerField(default=0)
    cost_minor = peewee.IntegerField(default=0)

    class Meta:
        primary_key = peewee.CompositeKey("dimension", "day", "key", "currency")


class GuardCall(BaseModel):
    """An outbound call the dial guard let through and that has not hung up yet (``appliance.billing.guard``):
    what calls in progress have used of a cap or budget before the collector writes their records.  Deleted
    by the call's hangup handler; a row left by a restart is ignored once its call's record is collected,
    once its allowance has run out, and at the latest after a day."""

    uniqueid = peewee.CharField(primary_key=True)
    extension = peewee.CharField(default="", index=True)
    department = peewee.CharField(default="")
    started = peewee.FloatField()  # epoch seconds
    limit_seconds = peewee.IntegerField(default=0)  # the absolute limit it was dialled with; 0: none
    fee_minor = peewee.FloatField(default=0)  # its rate's connection fee and per-minute price, in minor units
    per_minute_minor = peewee.FloatField(default=0)
    answered_seconds = peewee.IntegerField(null=True)  # set at hangup: what it used, until its record is collected


class GuardAlert(BaseModel):
    """A cap or budget reached (or a budget's warning level), shown on the status page while its period
    lasts and it is still reached (``appliance.billing.guard.current_alerts``)."""

    scope = peewee.CharField()  # "site", "extension:200", "department:Sales"
    limit = peewee.CharField()  # daily_minutes, monthly_minutes, budget, budget_warning
    period = peewee.CharField()  # "2026-12-07" or "2026-12"
    raised = peewee.FloatField()

    class Meta:
        indexes = ((("scope", "limit", "period"), True),)


BILLING_TABLES = [Rate, CostDay]
GUARD_TABLES = [GuardCall, GuardAlert]
