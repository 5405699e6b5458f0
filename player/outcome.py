"""What a finished job means for the recording: warnings and "needs attention".

:func:`record_outcome` is called by the job runner (``player/jobs.py``) after the result is
written: a text of which not one passage was found marks the recording as needing attention
(publishing is refused until the lecturer confirms on the review page), and audio that holds
much less than its container declares is noted. (A failed job's message for the lecturer is
``jobs.user_message``.)
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sync.alignment import Alignment
from sync.audio import truncation_warning

NO_MATCH = "no-match"
ATTENTION_TEXT = {
    NO_MATCH: ("לא נמצא אף קטע מהטקסט בהקלטה: אולי זה טקסט אחר, או הקלטה אחרת? "
               "בדקו לפני פרסום. / Not one passage of the text was found in the recording: "
               "the wrong text, or the wrong recording? Check before publishing."),
}
BLOCKED = ("אי אפשר לפרסם לפני שתאשרו את ההקלטה הזאת (ראו את האזהרה). / "
           "Publishing is blocked until you confirm this recording (see the warning).")


def record_outcome(conn: sqlite3.Connection, recording_id: int, alignment: Alignment,
                   declared_duration: float | None, decoded_duration: float) -> str | None:
    """Store what the lecturer must know about a finished job; returns the attention code."""
    row = conn.execute("SELECT source_name, audio_path FROM recordings WHERE id = ?", (recording_id,)).fetchone()
    name = (row["source_name"] or row["audio_path"] or "audio") if row else "audio"
    attention = NO_MATCH if not alignment.read_cues() else None
    warning = truncation_warning(name, declared_duration, decoded_duration)
    conn.execute("UPDATE recordings SET attention = ?, audio_warning = ? WHERE id = ?",
                 (attention, _bilingual_warning(warning), recording_id))
    conn.commit()
    return attention


def _bilingual_warning(warning: str | None) -> str | None:
    if warning is None:
        return None
    return f"נראה שקובץ השמע קטוע. / {warning}."


def attention(conn: sqlite3.Connection, recording_id: int) -> dict[str, Any]:
    """{"code", "message", "audio_warning"} for the review page and status.json."""
    row = conn.execute("SELECT attention, audio_warning FROM recordings WHERE id = ?", (recording_id,)).fetchone()
    code = row["attention"] if row else None
    return {"code": code, "message": ATTENTION_TEXT.get(code or "", code), "audio_warning":
            row["audio_warning"] if row else None}


def publish_blocked(conn: sqlite3.Connection, recording_id: int) -> bool:
    return attention(conn, recording_id)["code"] is not None


def confirm(conn: sqlite3.Connection, recording_id: int) -> None:
    """The lecturer looked and wants it anyway: publishing is allowed again."""
    conn.execute("UPDATE recordings SET attention = NULL WHERE id = ?", (recording_id,))

