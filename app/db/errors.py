"""Exceptions the persistence layer raises, carrying what was looked for."""

from __future__ import annotations


class RecordNotFoundError(LookupError):
    """No stored `kind` has this key (the API answers 404)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"there is no {kind} {key}")
        self.kind = kind
        self.key = key
