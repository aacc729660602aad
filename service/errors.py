"""One error family; one handler renders {"error", "detail", "errors"}."""

from typing import Any

from starlette.responses import JSONResponse


class FormwrightError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.errors = errors or []
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, "errors": self.errors}


def error_response(exc: FormwrightError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


class NotFound(FormwrightError):
    status_code = 404
    code = "not_found"


class Conflict(FormwrightError):
    status_code = 409
    code = "conflict"


class Unprocessable(FormwrightError):
    status_code = 422
    code = "invalid_request"


class Unauthorized(FormwrightError):
    status_code = 401
    code = "unauthorized"


class TooLarge(FormwrightError):
    status_code = 413
    code = "too_large"


class Unavailable(FormwrightError):
    status_code = 503
    code = "unavailable"
