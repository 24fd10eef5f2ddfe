"""The development lab: Debian forky's Asterisk in a chroot, the pbx and carrier instances, a gateway
simulator, and ``make run`` (``lab.devrun``).

A development tool, not part of the appliance: the wheel installed on a box holds only ``appliance``
and ``hardware``, and nothing under ``appliance/`` imports this package.  Tests, benchmarks and the
image build use it.
"""
