"""Secrets at rest: the site's secret columns sealed with a key that lives outside the database.

SIP and trunk passwords, voicemail PINs, gateways' provisioning credentials and the shared
provisioning password are stored sealed (``SealedField``: Fernet, AES-128-CBC with an HMAC, from the
``cryptography`` package), so a copy of ``linebox.db`` (a stolen disk image, a database copied for
support, an old backup) gives none of them away.  The key is in a file beside the database,
``secrets.key`` (mode 0600, the service user's; ``linebox init-system`` keeps it so), made on first use.

The same file holds the install's internal secrets (the AMI master secret every per-service AMI
password is derived from, the console's session key): they never enter the database at all.
``internal_secret`` makes each once and keeps it stable.

The key file is read once per process and the ring kept (``current``); a database opened from
another path (a test's, a backup being checked) binds the ring of its own folder unless the caller
passes one (a restore checks a backup with the box's ring).  An in-memory database gets an in-memory ring.

Values are decrypted only where read through the models (the service layer: rendering, gateway
files, the console's "show password"); a value that was sealed with another box's key raises
``SealedError`` saying so instead of handing out garbage.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import peewee

from appliance.catalog import N_
from appliance.errors import Message

KEY_FILE = "secrets.key"
FORMAT = "linebox-secrets 1"
PREFIX = "sealed:1:"  # a sealed value's text starts so; anything else is from before sealing (plain)


class SealedError(ValueError):
    """A sealed value this install's key cannot open (it was sealed on another box, or the key file changed)."""


class KeyRing:
    """One install's key and internal secrets, kept in ``path`` (None: in memory only)."""

    def __init__(self, path: Path | None, key: bytes, internal: dict[str, str]):
        self.path, self.key, self.internal = path, key, dict(internal)
        self._fernet: Any = None  # cryptography's Fernet, made when first needed

    # ------------------------------------------------------------ loading and making

    @classmethod
    def in_memory(cls, key: bytes | None = None) -> KeyRing:
        return cls(None, key or new_key(), {})

    @classmethod
    def for_folder(cls, folder: Path) -> KeyRing:
        """The ring in ``folder/secrets.key``, made (0600) if there is none yet."""
        path = folder / KEY_FILE
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            _write_new(path, {"format": FORMAT, "key": new_key().decode(), "internal": {}})
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        try:
            data = json.loads(path.read_text())
            key = data["key"].encode()
            if data.get("format") != FORMAT or len(base64.urlsafe_b64decode(key)) != 32:
                raise ValueError("unknown format")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise SealedError(Message(N_("%(path)s: not a Linebox key file (%(error)s); restore it from where it "
                                         "was kept, or the secrets stored in the database cannot be read"),
                                      path=path, error=str(error))) from None
        return cls(path, key, data.get("internal") or {})

    # ------------------------------------------------------------ sealing

    def _cipher(self):
        if self._fernet is None:
            from cryptography.fernet import Fernet  # here: the small services that never seal stay light
            self._fernet = Fernet(self.key)
        return self._fernet

    def seal(self, value: str) -> str:
        """``value`` sealed with this key (the empty value stays empty: nothing to hide, and it says "none")."""
        if not value or value.startswith(PREFIX):
            return value
        return PREFIX + self._cipher().encrypt(value.encode()).decode()

    def open(self, value: str) -> str:
        """The value ``seal`` gave, in clear; a value stored before sealing is returned as it is."""
        if not isinstance(value, str) or not value.startswith(PREFIX):
            return value
        from cryptography.fernet import InvalidToken
        try:
            return self._cipher().decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            where = (Message(N_("the key in %(path)s"), path=self.path) if self.path
                     else Message(N_("this install's key")))
            raise SealedError(Message(N_("a stored secret cannot be opened with %(where)s: it was encrypted with "
                                         "another Linebox's key (restore the backup with its passphrase, or enter "
                                         "the secret again)"), where=where)) from None

    def key_id(self) -> str:
        """A name for this key that gives nothing of it away: a backup says which key sealed its secrets."""
        return hmac.new(self.key, b"linebox key id", hashlib.sha256).hexdigest()[:32]

    # ------------------------------------------------------------ internal secrets

    def internal_secret(self, name: str, factory: Callable[[], str]) -> str:
        """The install's secret ``name``: made once by ``factory`` and kept in the key file."""
        if name in self.internal:
            return self.internal[name]
        with self._locked() as data:
            value = data["internal"].setdefault(name, factory())
            self.internal = dict(data["internal"])
        return value

    def adopt_internal(self, values: dict[str, str]) -> None:
        """Keep ``values`` (secrets moved out of a database) for names this ring does not have yet."""
        with self._locked() as data:
            for name, value in values.items():
                data["internal"].setdefault(name, value)
            self.internal = dict(data["internal"])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        """The key file's content, written back (atomically, 0600) when the block ends; one writer at a time."""
        if self.path is None:
            yield {"format": FORMAT, "key": self.key.decode(), "internal": dict(self.internal)}
            return
        # the folder is the lock: the key file itself is replaced by a rename, and a lock file made by root
        # (the technician's CLI) could not be opened by the service user afterwards
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = json.loads(self.path.read_text())
            data.setdefault("internal", {})
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
                partial.unlink(missing_ok=True)
                _write_file(partial, data)
                _keep_owner(self.path, partial)
                os.replace(partial, self.path)
        finally:
            os.close(fd)


# ---------------------------------------------------------------- the key wrapped with a passphrase (backups)

# scrypt's cost: 32 MiB and about 0.1 s per try on the appliance, so a stolen archive's passphrase is
# guessed at a few tries a second per core; a wrapped key asking for more than MAX_SCRYPT_N is refused
# (an archive must not make the box spend minutes or gigabytes).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MAX_SCRYPT_N = 2**20


class WrongPassphrase(SealedError):
    """The passphrase does not open the wrapped key."""


def _passphrase_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    derived = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
    return base64.urlsafe_b64encode(derived)


def wrap_key(ring: KeyRing, passphrase: str) -> dict:
    """``ring``'s key encrypted with a key derived from ``passphrase`` (scrypt): what a backup carries.

    Only the key: the install's internal secrets (AMI, session key) belong to the box and never travel."""
    from cryptography.fernet import Fernet
    salt = secrets.token_bytes(16)
    wrapped = Fernet(_passphrase_key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(ring.key)
    return {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
            "salt": base64.b64encode(salt).decode(), "wrapped_key": wrapped.decode(), "key_id": ring.key_id()}


def unwrap_key(data: dict, passphrase: str) -> KeyRing:
    """The key ``wrap_key`` wrapped, as an in-memory ring; ``WrongPassphrase`` if the passphrase is not the one."""
    from cryptography.fernet import Fernet, InvalidToken
    try:
        n, r, p = int(data["n"]), int(data["r"]), int(data["p"])
        salt, wrapped = base64.b64decode(data["salt"]), data["wrapped_key"].encode()
        if data.get("kdf") != "scrypt" or not (2 <= n <= MAX_SCRYPT_N and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("unknown key derivation")
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SealedError(Message(N_("the backup's wrapped key is not readable (%(error)s)"),
                                  error=str(error))) from None
    try:
        key = Fernet(_passphrase_key(passphrase, salt, n, r, p)).decrypt(wrapped)
    except InvalidToken:
        raise WrongPassphrase(Message(N_("wrong passphrase: it is not the one chosen when the backup was "
                                         "made"))) from None
    return KeyRing.in_memory(key)


def new_key() -> bytes:
    """A new Fernet key (32 random bytes, URL-safe base64)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32))


def _write_file(path: Path, data: dict) -> None:
    """Write ``data`` to a new file at ``path``, readable by its owner only from its first byte, and sync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(data, indent=1) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _write_new(path: Path, data: dict) -> None:
    """Make the file at ``path`` with ``data`` unless it exists: whole or not at all (written aside, then
    linked in, which fails if another process made it first; theirs is kept, and read by the caller)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    _write_file(partial, data)
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)


def _keep_owner(old: Path, new: Path) -> None:
    """Give ``new`` the owner of ``old`` (root rewriting the service user's key file must not take it over)."""
    st = old.stat()
    with contextlib.suppress(PermissionError):
        os.chown(new, st.st_uid, st.st_gid)


# ---------------------------------------------------------------- the process's ring

_current: KeyRing | None = None


def use(ring: KeyRing) -> None:
    """Make ``ring`` the one sealed columns are read and written with (``open_database`` calls it)."""
    global _current
    _current = ring


def current() -> KeyRing:
    global _current
    if _current is None:
        _current = KeyRing.in_memory()
    return _current


def ring_for(database_path: Path | str) -> KeyRing:
    """The ring of the database at ``database_path``: the key file in its folder (in memory for ``:memory:``)."""
    if str(database_path) == ":memory:":
        return KeyRing.in_memory()
    return KeyRing.for_folder(Path(database_path).parent)


class SealedField(peewee.CharField):
    """A text column stored sealed with the current ring; reads give the clear text."""

    def db_value(self, value):
        value = super().db_value(value)
        return current().seal(value) if isinstance(value, str) else value

    def python_value(self, value):
        value = super().python_value(value)
        return current().open(value) if isinstance(value, str) else value
