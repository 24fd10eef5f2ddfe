"""The bootable Linebox image: a Debian forky guest built with mmdebstrap, the Ansible roles run inside it,
Debian's kernel with DKMS-built DAHDI modules, GRUB for BIOS and UEFI; and the qemu machinery that boots it
(also used by the virtual DAHDI lab).  Run from the source tree: ``python -m image build``."""
