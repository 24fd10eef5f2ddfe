"""CSV downloads of the console (extensions, phonebook, reports): one response for all, with or without a BOM.

A Chinese Excel opens a CSV file in the Windows code page (GBK) unless it starts with a UTF-8 byte-order
mark, and shows UTF-8 Chinese as mojibake.  So a download carries the BOM when its reader is Chinese: the
user's console language, or else a site whose language is Chinese.  ``?bom=1`` or ``?bom=0`` on the link
decides for a tool that wants one or the other (a script reading with plain ``utf-8``).  Importers take
both (``appliance.csvfile.read_csv``).
"""

from __future__ import annotations

from flask import Response, request

from appliance.csvfile import file_bytes
from appliance.site import service
from appliance.web.i18n import current_language


def wants_bom() -> bool:
    """Whether this request's CSV download starts with a byte-order mark."""
    asked = request.args.get("bom", "")
    if asked in ("0", "1"):
        return asked == "1"
    return current_language().startswith("zh") or service.load_settings().language == "zh"


def csv_download(text: str, filename: str) -> Response:
    """``text`` as a CSV file download named ``filename`` (UTF-8, with a BOM for Chinese readers)."""
    return Response(file_bytes(text, wants_bom()), mimetype="text/csv", content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
