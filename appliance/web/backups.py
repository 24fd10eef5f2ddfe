"""The console's backups page: download a backup, upload one, see what it would change, confirm the restore.

Admins only (a backup holds every password of the site, encrypted).  The views are thin: ``appliance.support.backup``
makes, checks, previews and restores, exactly as ``linebox backup``/``linebox restore`` do.

An uploaded archive is checked at once and kept under ``<home>/backups/uploads`` under a random
name until it is restored or replaced; the preview page names it by that name only.  The upload is
the one form larger than the console's 1 MiB request limit: its view raises the limit for itself,
which has to happen before the form is read, so it checks the CSRF token itself instead of leaving
that to CSRFProtect (which reads the form before any view runs).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from appliance.model import audit
from appliance.model.models import User
from appliance.site import service
from appliance.support import backup
from appliance.web.forms import EmptyForm
from appliance.web.i18n import error_text, message_text
from appliance.web.roles import ADMIN, require_role

blueprint = Blueprint("backups", __name__)
MAX_UPLOAD = 8 * 2**30  # recordings make backups large; the archive is spooled to disk, not memory
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@blueprint.record_once
def _exempt_upload(state) -> None:
    state.app.extensions["csrf"].exempt(f"{__name__}.upload")


def _install():
    return current_app.extensions["linebox.install"]


def _uploads() -> Path:
    folder = backup.rollback_folder(_install()) / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _work() -> Path:
    """Where archives are unpacked and made: the install's backups folder (/tmp may be a small tmpfs)."""
    return backup.rollback_folder(_install())


def _upload_path(token: str) -> Path:
    if not _TOKEN.match(token):
        abort(404)
    path = _uploads() / f"{token}.tar.gz"
    if not path.is_file():
        abort(404)
    return path


def _page(error: str = "", status: int = 200):
    kept = [(p.name, p.stat().st_size) for p in backup.list_backups(_install())]
    return render_template("backups.html", form=EmptyForm(), error=error, kept=kept[:20]), status


@blueprint.get("/backups")
@require_role(ADMIN)
def page():
    return _page()


@blueprint.post("/backups/download")
@require_role(ADMIN)
def download():
    """Make a backup now and send it; the download is in the audit log (the file holds every secret)."""
    with_recordings = request.form.get("with_recordings") == "1"
    passphrase: str | None = request.form.get("passphrase", "")
    if request.form.get("no_passphrase") == "1":
        passphrase = None
    elif not passphrase:
        return _page(gettext("Choose a passphrase for the backup (it is needed to restore it on another box), or "
                             "tick \"without a passphrase\" for a backup that restores only on this box."), 422)
    elif passphrase != request.form.get("passphrase_again", ""):
        return _page(gettext("The two passphrases differ: type the same one twice."), 422)
    else:
        try:
            backup.check_passphrase(passphrase)
        except backup.BackupError as error:
            return _page(gettext("No backup made: %(error)s.", error=error_text(error)), 422)
    _work().mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".linebox-download-", dir=_work()))
    name = backup.default_name()
    try:
        made = backup.create_backup(_install(), folder / name, with_recordings=with_recordings, passphrase=passphrase)
    except backup.BackupError as error:  # a PostgreSQL site: its database is backed up with PostgreSQL's tools
        shutil.rmtree(folder, ignore_errors=True)
        return _page(gettext("No backup made: %(error)s.", error=error_text(error)), 422)
    made_size = made.size
    audit.record(current_user.username, "download", "backup", name, None,
                 {"with_recordings": with_recordings, "size": made_size, "passphrase": passphrase is not None})

    # Sent from an open handle on a file already deleted: nothing is left behind, however the download ends.
    handle = open(made.path, "rb")  # noqa: SIM115 - closed by the WSGI server after sending
    shutil.rmtree(folder, ignore_errors=True)
    response = send_file(handle, mimetype="application/gzip", as_attachment=True, download_name=name)
    response.content_length = made_size  # a browser shows the download's progress
    return response


@blueprint.post("/backups/upload")
@require_role(ADMIN)
def upload():
    request.max_content_length = MAX_UPLOAD
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        raise CSRFError(error.args[0]) from None
    file = request.files.get("file")
    if file is None or not file.filename:
        return _page(gettext("Choose a backup file (.tar.gz) to upload."), 422)
    for old in _uploads().glob("*.tar.gz"):  # one pending upload at a time
        old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    path = _uploads() / f"{token}.tar.gz"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        shutil.copyfileobj(file.stream, handle, 1 << 20)
    try:
        # from another box: opened with its passphrase now, and rewritten sealed with this box's key, so the
        # preview and the restore (later requests) need it no more and it is kept nowhere
        backup.bind_to_this_box(path, _work(), request.form.get("passphrase") or None)
    except backup.BackupError as error:
        path.unlink(missing_ok=True)
        return _page(gettext("%(file)s: %(error)s. Nothing was changed.", file=file.filename,
                             error=error_text(error)), 422)
    return redirect(url_for("backups.preview", token=token))


@blueprint.get("/backups/preview/<token>")
@require_role(ADMIN)
def preview(token: str):
    path = _upload_path(token)
    try:
        with backup.open_backup(path, _work()) as opened:
            change = backup.preview(opened, service.snapshot(), {u.username for u in User.select(User.username)},
                                    _install().database)
            manifest = opened.manifest
    except backup.BackupError as error:
        path.unlink(missing_ok=True)
        return _page(gettext("%(error)s. Nothing was changed.", error=error_text(error)), 422)
    return render_template("backup_preview.html", form=EmptyForm(), token=token, change=change,
                           described=message_text(backup.describe(manifest)), manifest=manifest, nav_active="backups")


@blueprint.post("/backups/restore/<token>")
@require_role(ADMIN)
def restore(token: str):
    path = _upload_path(token)
    try:
        with backup.open_backup(path, _work()) as opened:
            result = backup.restore(_install(), opened, current_user.username)
    except backup.BackupError as error:
        path.unlink(missing_ok=True)
        return _page(gettext("%(error)s. Nothing was changed.", error=error_text(error)), 422)
    path.unlink(missing_ok=True)
    flash(gettext("Backup restored (%(what)s). The previous state is kept as %(name)s. Apply the changes to make the "
                  "restored site live.", what=", ".join(gettext(part) for part in result.restored),
                  name=result.rollback.name), "info")
    return redirect(url_for("pages.apply_page"))
