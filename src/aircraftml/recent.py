"""The bot's last replies, for the operator's dashboard: text, a thumbnail of the annotated
picture, and the time from mention to reply. Kept in the state store (so every worker's
replies show, on any backend) as records of kind ``recent_reply``, the newest ``keep``
only: older ones are deleted as new ones come.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from PIL import Image

from aircraftml.state.base import StateStore

KIND = "recent_reply"
THUMBNAIL_SIDE_PX = 160


@dataclass(frozen=True, slots=True)
class RecentReply:
    post_id: str
    reply_id: str
    author_handle: str
    text: str
    at_epoch_s: float
    latency_s: float | None
    thumbnail_jpeg_base64: str | None


class RecentReplies:
    def __init__(
        self, state: StateStore, *, keep: int = 20, clock: Callable[[], float] = time.time
    ) -> None:
        self._state = state
        self._keep = keep
        self._clock = clock

    def add(
        self,
        *,
        post_id: str,
        reply_id: str,
        author_handle: str,
        text: str,
        received_at_epoch_s: float | None,
        picture: Image.Image | None,
    ) -> None:
        now = self._clock()
        reply = RecentReply(
            post_id=post_id,
            reply_id=reply_id,
            author_handle=author_handle,
            text=text,
            at_epoch_s=now,
            latency_s=None if not received_at_epoch_s else max(now - received_at_epoch_s, 0.0),
            thumbnail_jpeg_base64=None if picture is None else thumbnail(picture),
        )
        key = f"{int(now * 1000):015d}:{post_id}"
        self._state.put_record(KIND, key, json.dumps(asdict(reply), separators=(",", ":")))
        for old_key, _ in self._state.records(KIND)[: -self._keep]:
            self._state.delete_record(KIND, old_key)

    def latest(self) -> list[RecentReply]:
        """Newest first."""
        return [RecentReply(**json.loads(v)) for _, v in reversed(self._state.records(KIND))]


def thumbnail(picture: Image.Image) -> str:
    small = picture.copy()
    small.thumbnail((THUMBNAIL_SIDE_PX, THUMBNAIL_SIDE_PX))
    out = io.BytesIO()
    small.convert("RGB").save(out, format="JPEG", quality=70)
    return base64.b64encode(out.getvalue()).decode("ascii")
