"""A minimal ctypes binding of libumockdev's UMockdevTestbed, for synthesising uevents.

Why ctypes: the GObject-introspection typelib (gir1.2-umockdev-1.0) is not installed here and
the venv has no PyGObject, but libumockdev.so.0 (Debian's libumockdev0, pulled in by umockdev)
is.  ``umockdev-run`` cannot emit uevents after start-up, so the hotplug test runs a process
under ``LD_PRELOAD=libumockdev-preload.so.0`` that creates the testbed itself, exactly as
umockdev's own test suites do, and drives it through these calls.
"""

from __future__ import annotations

import ctypes

PRELOAD = "libumockdev-preload.so.0"


class _GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int), ("message", ctypes.c_char_p)]


def load_library() -> ctypes.CDLL:
    """libumockdev, with argument types declared (raises OSError when it is not installed)."""
    lib = ctypes.CDLL("libumockdev.so.0")
    lib.umockdev_testbed_new.restype = ctypes.c_void_p
    lib.umockdev_testbed_get_root_dir.restype = ctypes.c_char_p
    lib.umockdev_testbed_get_root_dir.argtypes = [ctypes.c_void_p]
    lib.umockdev_testbed_add_from_file.restype = ctypes.c_int
    lib.umockdev_testbed_add_from_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                   ctypes.POINTER(ctypes.POINTER(_GError))]
    lib.umockdev_testbed_uevent.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.umockdev_testbed_remove_device.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.umockdev_testbed_set_property.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                                  ctypes.c_char_p]
    lib.umockdev_testbed_set_attribute_link.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                                        ctypes.c_char_p]
    return lib


class Testbed:
    """A UMockdevTestbed: a private /sys the preloaded process sees instead of the real one."""

    def __init__(self) -> None:
        self._lib = load_library()
        self._tb = self._lib.umockdev_testbed_new()
        if not self._tb:
            raise RuntimeError("umockdev_testbed_new failed")

    @property
    def root(self) -> str:
        return self._lib.umockdev_testbed_get_root_dir(self._tb).decode()

    def add_from_file(self, path: str) -> None:
        """Add the devices of a ``*.umockdev`` record (emits one ``add`` uevent per device)."""
        error = ctypes.POINTER(_GError)()
        if not self._lib.umockdev_testbed_add_from_file(self._tb, str(path).encode(), ctypes.byref(error)):
            message = error.contents.message.decode() if error else "unknown error"
            raise RuntimeError(f"umockdev: cannot load {path}: {message}")

    def uevent(self, sys_path: str, action: str) -> None:
        self._lib.umockdev_testbed_uevent(self._tb, sys_path.encode(), action.encode())

    def remove_device(self, sys_path: str) -> None:
        self._lib.umockdev_testbed_remove_device(self._tb, sys_path.encode())

    def set_property(self, sys_path: str, name: str, value: str) -> None:
        self._lib.umockdev_testbed_set_property(self._tb, sys_path.encode(), name.encode(), value.encode())

    def close(self) -> None:
        """Drop the testbed; its finalizer deletes the temporary /sys tree."""
        if self._tb:
            gobject = ctypes.CDLL("libgobject-2.0.so.0")
            gobject.g_object_unref.argtypes = [ctypes.c_void_p]
            gobject.g_object_unref(self._tb)
            self._tb = None

    def set_attribute_link(self, sys_path: str, name: str, target: str) -> None:
        self._lib.umockdev_testbed_set_attribute_link(self._tb, sys_path.encode(), name.encode(), target.encode())
