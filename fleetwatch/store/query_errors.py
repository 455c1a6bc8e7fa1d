"""Errors of the list endpoints' ``query``, ``sort`` and ``fields`` parameters.

Each carries its Rocket.Chat ``error_type`` and the HTTP status the API answers with; ``str()``
is the Rocket.Chat message, ``detail`` the part saying what is wrong.

Hierarchy:

* QueryParameterError (ValueError)
  + InvalidQuery   - error-invalid-query
  + InvalidSort    - error-invalid-sort
  + InvalidFields  - error-invalid-fields
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["InvalidFields", "InvalidQuery", "InvalidSort", "QueryParameterError"]


class QueryParameterError(ValueError):
    """A list parameter that cannot be used; ``detail`` says what and where."""

    error_type: ClassVar[str] = "error-invalid-params"
    parameter: ClassVar[str] = "parameters"
    status: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"Invalid {self.parameter} parameter provided: {detail} [{self.error_type}]"
        )


class InvalidQuery(QueryParameterError):
    error_type = "error-invalid-query"
    parameter = "query"


class InvalidSort(QueryParameterError):
    error_type = "error-invalid-sort"
    parameter = "sort"


class InvalidFields(QueryParameterError):
    error_type = "error-invalid-fields"
    parameter = "fields"
