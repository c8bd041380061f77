"""JSON request bodies, held to JSON's own types and a sane depth.

Litestar decodes a body into Python objects, then converts them to the
handler's type leniently (`"false"` becomes False, `"5"` becomes 5), and a
body of a thousand nested `[` overflows the decoder's recursion (a 500). The
API's types are JSON's: a switch is `true` or `false`, a position a number.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

T = TypeVar("T")
MAX_DEPTH = 32  # our bodies nest two levels; anything deeper is not one of them
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


def nesting_exceeds(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects deeper than `limit` (strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets: the usual case, no scan
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSE:
            depth -= 1
    return False


class JSONRequest(Request[Any, Any, Any]):
    """A request whose JSON body is refused with 400 before decoding when nested too deeply."""

    async def json(self) -> Any:
        if nesting_exceeds(await self.body()):
            raise ValidationException(detail=f"request body nests deeper than {MAX_DEPTH} levels")
        return await super().json()


async def strict_body(request: Request[Any, Any, Any], model: type[T]) -> T | None:
    """The body as `model`, with no coercion between JSON types; None for an empty body."""
    if not await request.body():
        return None
    try:
        return msgspec.convert(await request.json(), model, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationException(detail=f"invalid request body: {exc}") from None
