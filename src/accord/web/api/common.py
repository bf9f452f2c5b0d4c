"""What every API router shares: error documents, and domain errors as HTTP answers."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException

from accord.errors import (
    AccordError,
    Conflict,
    InputError,
    InvalidInput,
    LedgerKeyUnavailable,
    NotFound,
)
from accord.web.api.schemas import ErrorOut

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The request cannot be read or carried out as asked"},
    401: {"model": ErrorOut, "description": "No valid API token"},
    403: {"model": ErrorOut, "description": "The token's role or scope does not allow this"},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    words = {
        404: "Not found",
        409: "Conflicts with the current state",
    }
    out = dict(AUTH_ERRORS)
    for c in codes:
        out[c] = {"model": ErrorOut, "description": words.get(c, "Error")}
    return out


def unprocessable(exc: InputError, key: str) -> HTTPException:
    """An InputError about request records as a 422 in FastAPI's own validation shape.

    ``loc`` points into the body (``["body", key, index, column]``, index from 0); the
    message names the row counted from 1, as every Accord message does.
    """
    detail = [
        {
            "loc": ["body", key]
            + ([p.row - 1] if p.row is not None else [])
            + ([p.column] if p.column is not None else []),
            "msg": str(p),
            "type": "value_error",
        }
        for p in exc.problems
    ]
    if exc.total > len(exc.problems):
        detail.append(
            {
                "loc": ["body", key],
                "msg": f"... and {exc.total - len(exc.problems)} more problem(s)",
                "type": "value_error",
            }
        )
    return HTTPException(422, detail)


def invalid(exc: InvalidInput) -> list[dict[str, Any]]:
    """An invalid value in FastAPI's validation shape: ``loc`` names the field (in the
    body, where every value a use case checks comes from) and ``msg`` says what is wrong."""
    return [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]


def status_of(exc: AccordError, otherwise: int = 400) -> int:
    """The HTTP status a domain error means: an invalid value 422, something missing 404,
    a refusal in the present state 409, anything else ``otherwise``."""
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return otherwise


def http_error(exc: AccordError, otherwise: int = 400) -> HTTPException:
    """A domain error raised by a use case as the API's answer (:func:`status_of`); an
    invalid value names its field (:func:`invalid`), any other error says what it is."""
    if isinstance(exc, InvalidInput):
        return HTTPException(422, invalid(exc))
    return HTTPException(status_of(exc, otherwise), str(exc))


@contextmanager
def domain_errors_answered(otherwise: int = 400) -> Iterator[None]:
    """A domain error raised inside becomes the API's answer (:func:`http_error`); a
    ledger key that cannot be used is left to the application, which tells the operators
    and gives the person plain words and a reference (:func:`operators_problem`)."""
    try:
        yield
    except LedgerKeyUnavailable:
        raise
    except AccordError as exc:
        raise http_error(exc, otherwise) from None


def operators_problem(exc: Exception, what: str = "This cannot be done right now") -> str:
    """Log ``exc`` for the operators under a new reference, and return plain words for
    whoever asked: what failed, that it is not their fault, and the reference to quote.

    Whatever an error says for an operator (a missing key, a database to upgrade) never
    reaches a member of the public, a recipient or a reviewer on the web.
    """
    reference = secrets.token_hex(4).upper()
    logging.getLogger("accord.web").error("reference %s: %s", reference, exc)
    return (
        f"{what} because of a problem on our side, not yours. Please try again later; "
        f"if it keeps happening, contact us quoting reference {reference}."
    )
