"""Request bodies: one size limit, one text rule and one JSON parser for every route.

Every body is read here before a route sees it, so a body over the limit is a 413 however it
was sent (Content-Length or chunked), and a JSON body the app cannot hold safely — nested
deeper than it can serialize back, or with NaN/Infinity that no JSON reader accepts — is a
422 before FastAPI's own parser (which accepts both) runs.
"""

import json
import re
from email.message import Message as MimeMessage
from itertools import accumulate, repeat
from operator import sub
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import FormwrightError, TooLarge, Unprocessable, error_response

# A schema may nest 128 levels (schemas.limits.Limits.max_json_depth) and a body wraps it in a
# few more; responses wrap stored values in a page envelope and pydantic refuses to serialize
# past ~255 levels, so a stored value must stay well below that.
MAX_JSON_DEPTH = 160
BOM = "\ufeff"
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEPS = str.maketrans("[{]}", "\x02\x02\x00\x00")


def decode_text(data: bytes) -> str:
    """UTF-8 text; one leading BOM is dropped (RFC 8259 lets readers ignore it), on every route."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            "The body is not UTF-8 text.",
            code="invalid_encoding",
            errors=[{"path": "", "message": f"invalid byte at offset {exc.start}"}],
        ) from exc
    return text.removeprefix(BOM)


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects, counted without recursion."""
    # Opening brackets become 2, closing 0; minus one each, the running sum is the depth.
    steps = _NOT_BRACKETS.sub("", _STRINGS.sub("", text)).translate(_STEPS).encode()
    return max(accumulate(map(sub, steps, repeat(1))), default=0)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of the range of a double")
    return value


def invalid_json(message: str, *, where: dict[str, Any] | None = None) -> Unprocessable:
    return Unprocessable(
        "The body is not valid JSON.",
        code="invalid_json",
        errors=[{"path": "", "message": message, **(where or {})}],
    )


def loads(text: str, *, where: dict[str, Any] | None = None) -> Any:
    """Parse JSON strictly: no NaN/Infinity, no overflowing numbers, at most MAX_JSON_DEPTH deep.

    `where` (e.g. a JSONL line number) is added to the reported error.
    """
    if json_depth(text) > MAX_JSON_DEPTH:
        raise invalid_json(f"nesting deeper than {MAX_JSON_DEPTH} levels", where=where)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise invalid_json(str(exc), where=where) from exc


def jsonl_lines(text: str) -> list[str]:
    """JSONL records: only \\n (or \\r\\n) ends one; U+2028, U+0085... may sit raw in a string."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def is_json(content_type: str | None) -> bool:
    """The content types FastAPI parses as JSON (none given counts as JSON)."""
    if not content_type:
        return True
    message = MimeMessage()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class RequestBody:
    """Read the body (at most `max_bytes`), check JSON bodies, then hand the app the same bytes."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self.read(scope, receive)
            headers = dict(scope["headers"])
            if body and is_json(headers.get(b"content-type", b"").decode("latin-1")):
                loads(decode_text(body))
        except FormwrightError as exc:
            await error_response(exc)(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # the app waits for the disconnect
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def read(self, scope: Scope, receive: Receive) -> bytes:
        too_large = TooLarge(
            f"The request body is larger than {self.max_bytes} bytes.", code="body_too_large"
        )
        length = dict(scope["headers"]).get(b"content-length", b"")
        # Compare the digits' count first: int() refuses numbers of thousands of digits.
        if length.isdigit() and (len(length) > 18 or int(length) > self.max_bytes):
            raise too_large
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
