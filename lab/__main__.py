"""``python -m lab build``: build (or find cached) the lab's root file system."""

from __future__ import annotations

import sys

from lab import rootfs


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "build":
        print("usage: python -m lab build", file=sys.stderr)
        return 2
    path = rootfs.build()
    print(f"lab root file system: {path} (Asterisk {rootfs.asterisk_version(path)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
