"""What the REST API's requests may carry beyond the site objects: paging limits and the bodies of
``POST /apply`` and ``POST /rollback``.

Their own room because two modules read them: ``routes``, which validates requests with them, and
``openapi``, which documents them (and ``routes`` serves ``openapi``'s document, so neither may
import the other for them).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from appliance.site import queries

MAX_PAGE = queries.MAX_LIMIT
DEFAULT_PAGE = 100


class ApplyRequest(BaseModel):
    """Body of ``POST /apply``."""

    model_config = ConfigDict(extra="forbid")
    dry_run: bool = Field(default=False, description="Only check, render and diff; change nothing.")
    diff: bool = Field(default=True, description="Include the (redacted) configuration diff in the answer.")


class RollbackRequest(BaseModel):
    """Body of ``POST /rollback`` (may be empty)."""

    model_config = ConfigDict(extra="forbid")
    generation: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$")] | None = Field(
        default=None, description="Generation id to put back live; default: the one before the live one.")


class PromptRecording(BaseModel):
    """Body of ``PUT /prompts/{language}/{name}``: a recording replacing one prompt, base64 in JSON."""

    model_config = ConfigDict(extra="forbid")
    filename: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The file's name: its extension says its format (wav, mp3, ogg, flac, ...).")
    audio_base64: Annotated[str, StringConstraints(min_length=1, max_length=28_000_000)] = Field(
        description="The file's bytes, base64 (at most 20 MB of audio, 120 seconds).")


class DialRequest(BaseModel):
    """Body of ``POST /dial``: click-to-dial from the caller's own extension."""

    model_config = ConfigDict(extra="forbid")
    number: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="The number to call, as it would be dialled on the phone (digits, * and #, an optional "
                    "leading +; spaces, dashes, dots and parentheses are dropped).")


__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "ApplyRequest", "DialRequest", "PromptRecording", "RollbackRequest"]
