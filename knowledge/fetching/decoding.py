"""Bodies within their caps: Content-Encoding undone without letting a small gzip bomb grow
past the limit in memory, and the headers that describe a body."""

from __future__ import annotations

import zlib

from .results import FetchError

MB = 1024 * 1024


def human_size(n: int) -> str:
    for unit, size in (("MB", MB), ("KB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value.is_integer() or value >= 10 else f"{value:.1f} {unit}"
    return f"{n} bytes"


class BoundedDecoder:
    """Content-Encoding undone with a bound on the output, so a small gzip bomb cannot
    expand past max_bytes in memory."""

    def __init__(self, encoding: str, url: str):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._z = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        else:
            raise FetchError(
                f"The site sent the page in an encoding we cannot read ({encoding}).",
                code="bad_encoding",
                url=url,
            )
        self._url = url

    def feed(self, data: bytes, room: int) -> bytes:
        if self._z is None:
            return data
        try:
            return self._z.decompress(data, max(room, 1))
        except zlib.error as exc:
            raise FetchError(
                "The site sent a damaged compressed page.", code="bad_encoding", url=self._url
            ) from exc

    def flush(self) -> bytes:
        return b"" if self._z is None else self._z.flush()


def bounded_gunzip(data: bytes, limit: int, url: str) -> bytes:
    decoder = BoundedDecoder("gzip", url)
    out = decoder.feed(data, limit + 1)
    if len(out) <= limit:
        out += decoder.flush()
    if len(out) > limit:
        raise FetchError(
            f"The file is larger than {human_size(limit)} uncompressed.", code="too_large", url=url
        )
    return out


def parse_content_type(value: str) -> tuple[str, str | None]:
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'").lower()
    return media.strip().lower(), charset
