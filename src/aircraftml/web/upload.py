"""The photo out of an upload, in memory: a multipart form (the page's form, curl -F) or a
raw body with an image content type. Nothing is written to disk (Starlette's own form
parser spools large files to a temporary file; this one does not)."""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.multipart import MultipartParser, parse_options_header

FIELD = "photo"


class BadUpload(ValueError):
    """The request does not carry a photo in a form we take."""


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    data: bytes


def photo_from_body(body: bytes, content_type: str | None) -> Upload:
    kind, options = parse_options_header(content_type or "")
    if kind == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise BadUpload("multipart/form-data without a boundary")
        return _photo_from_multipart(body, boundary)
    if kind.startswith(b"image/") or kind == b"application/octet-stream":
        return Upload(name="upload", data=body)
    raise BadUpload(
        "send the photo as multipart/form-data (field 'photo') or as the body with an "
        "image/* content type"
    )


def _photo_from_multipart(body: bytes, boundary: bytes) -> Upload:
    parts: list[tuple[dict[bytes, bytes], bytearray]] = []
    header_field = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        parts.append((dict(headers), bytearray()))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].extend(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own errors and ValueErrors
        raise BadUpload(f"the form could not be read ({exc})") from None
    for part_headers, data in parts:
        _, disposition = parse_options_header(part_headers.get(b"content-disposition", b""))
        if disposition.get(b"name") == FIELD.encode():
            filename = disposition.get(b"filename", b"upload").decode("utf-8", "replace")
            return Upload(name=filename.rsplit("/", 1)[-1] or "upload", data=bytes(data))
    raise BadUpload(f"the form has no '{FIELD}' field")
