"""Ingest errors name the file and the problem; the API turns them into 4xx answers."""

from __future__ import annotations


class IngestError(Exception):
    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem
