"""Split long texts into chunks that fit a channel's byte limit.

Runs when outbox rows are enqueued (not in the senders), so each outbox row is exactly one API call
and the per-robot rate limit counts real messages. Pure functions; changes nothing.

Chunks are lossless: `"".join(split_text(text, n)) == text`. Separators stay in the chunk they
end (a chunk cut at a line break ends with a newline), so strip the text first if trailing
whitespace should not become a message of its own.
"""

from __future__ import annotations

ROBOT_TEXT_MAX_BYTES = 2048  # group robot `text.content`, UTF-8 bytes
ROBOT_MARKDOWN_MAX_BYTES = 4096  # group robot `markdown.content`
APP_MESSAGE_MAX_BYTES = 2048  # self-built app `message/send` text and markdown (WeCom truncates)
BOT_MARKDOWN_MAX_BYTES = 20480  # AI bot `response_url` markdown; one call only, so truncated

# A break is only taken if the chunk keeps at least this share of the window; otherwise a stray
# early newline would turn one long message into a tiny one plus a full one (two API calls).
_MIN_FILL = 0.5
_LINE_BREAK = b"\n"
_SENTENCE_ENDS = tuple(mark.encode() for mark in "。！？!?")
_MIN_MAX_BYTES = 4  # the longest UTF-8 character must fit in a chunk


def max_bytes_for(channel: str, kind: str) -> int | None:
    """The per-message byte limit to split at for a channel and kind; None if not split."""
    if channel == "wecom_robot":
        return {"text": ROBOT_TEXT_MAX_BYTES, "markdown": ROBOT_MARKDOWN_MAX_BYTES}.get(kind)
    if channel == "wecom_app" and kind in ("text", "markdown"):
        return APP_MESSAGE_MAX_BYTES
    return None  # bridge, console: no known limit; wecom_bot: single reply, truncated


def utf8_len(text: str) -> int:
    """Length of `text` in UTF-8 bytes, the unit WeCom limits are stated in."""
    return len(text.encode("utf-8"))


def split_text(text: str, max_bytes: int) -> list[str]:
    """Split `text` into chunks of at most `max_bytes` UTF-8 bytes, losslessly.

    Prefers to cut after a line break, then after a sentence end (。！？!?), and otherwise cuts at
    the last character boundary that fits; a character is never split. A text that fits is
    returned as the single chunk `[text]` (also for the empty string).
    """
    if max_bytes < _MIN_MAX_BYTES:
        raise ValueError(f"max_bytes must be at least {_MIN_MAX_BYTES}, got {max_bytes}")
    data = text.encode("utf-8")
    chunks: list[str] = []
    start = 0
    while len(data) - start > max_bytes:
        cut = _cut_point(data, start, max_bytes)
        chunks.append(data[start:cut].decode("utf-8"))
        start = cut
    chunks.append(data[start:].decode("utf-8"))
    return chunks


def truncate_utf8(text: str, max_bytes: int, marker: str = "…") -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes on a character boundary, `marker` appended."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    tail = marker.encode("utf-8")
    if len(tail) > max_bytes:
        raise ValueError("marker is longer than max_bytes")
    end = _boundary_at_or_before(data, max_bytes - len(tail))
    return data[:end].decode("utf-8") + marker


def _cut_point(data: bytes, start: int, max_bytes: int) -> int:
    """Where the chunk starting at `start` ends (exclusive byte offset)."""
    hard = _boundary_at_or_before(data, start + max_bytes)
    earliest = start + int(max_bytes * _MIN_FILL)
    for marks in ((_LINE_BREAK,), _SENTENCE_ENDS):
        best = max((_end_of_last(data, mark, start, hard) for mark in marks), default=-1)
        if best >= earliest:
            return best
    return hard


def _end_of_last(data: bytes, mark: bytes, start: int, end: int) -> int:
    """Offset just after the last `mark` inside data[start:end], or -1."""
    found = data.rfind(mark, start, end)
    return -1 if found < 0 else found + len(mark)


def _boundary_at_or_before(data: bytes, offset: int) -> int:
    """The largest character boundary <= offset (UTF-8 continuation bytes are 0b10xxxxxx)."""
    offset = min(offset, len(data))
    while offset < len(data) and data[offset] & 0xC0 == 0x80:
        offset -= 1
    return offset
