"""The browser UI's files, served from a table built once at startup, never from a client's path.

The request path is only ever a key into that table: no byte of it reaches the file system, so a
NUL, a `..`, an encoded slash, broken UTF-8 or a name too long for the kernel can only miss (404).
The UI is about 90 KB, so it is held in memory; that also keeps disk reads off the event loop.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path, PurePath

from litestar import Request, Response, Router, get, head
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

__all__ = ["web_ui_router"]

INDEX = "index.html"
# Types named here so that the answer does not depend on the host's /etc/mime.types.
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


class _File:
    __slots__ = ("body", "etag", "media_type")

    def __init__(self, body: bytes, media_type: str) -> None:
        self.body = body
        self.media_type = media_type
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _index(directory: Path) -> dict[str, _File]:
    files: dict[str, _File] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
            if media_type and (media_type.startswith("text/") or media_type.endswith("+xml")):
                media_type += "; charset=utf-8"
            files[path.relative_to(directory).as_posix()] = _File(
                path.read_bytes(), media_type or "application/octet-stream"
            )
    return files


def web_ui_router(directory: Path) -> Router:
    """GET/HEAD `/` (index.html) and `/<file>` for the files under `directory` at startup."""
    files = _index(directory)

    def answer(request: Request, name: str) -> Response[bytes]:
        found = files.get(name.strip("/") or INDEX)
        if found is None:
            raise NotFoundException("Not found")
        headers = {"ETag": found.etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == found.etag:
            return Response(b"", status_code=304, headers=headers)
        return Response(found.body, media_type=found.media_type, headers=headers)

    @get("/", sync_to_thread=False, name="web-index")
    def get_index(request: Request) -> Response[bytes]:
        return answer(request, INDEX)

    @get("/{name:path}", sync_to_thread=False, name="web")
    def get_file(request: Request, name: FromPath[PurePath]) -> Response[bytes]:
        return answer(request, name.as_posix())

    @head("/{name:path}", sync_to_thread=False, name="web-head")
    def head_file(request: Request, name: FromPath[PurePath]) -> Response[None]:
        found = answer(request, name.as_posix())
        return Response(None, status_code=found.status_code, headers=found.headers)

    return Router(
        path="/", route_handlers=[get_index, get_file, head_file], include_in_schema=False
    )
