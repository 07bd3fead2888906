"""Relay connections over the keyset pages every REST list uses: the same cursors, the same
page sizes. Each edge's cursor resumes right after that edge; `endCursor` is the last edge's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.projections.paging import MAX_LIMIT, Page, Sort, encode_cursor

DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= first <= MAX_LIMIT:
        raise ValidationFailed([FieldError("first", f"must be between 1 and {MAX_LIMIT}")])
    return first


def connection(nodes: Sequence[T], cursors: Sequence[str], has_next_page: bool) -> Connection[T]:
    edges = [Edge(node=node, cursor=cursor) for node, cursor in zip(nodes, cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next_page, end_cursor=edges[-1].cursor if edges else None
        ),
    )


def keyset_connection(page: Page, sort: Sort, node: Callable[[dict[str, Any]], T]) -> Connection[T]:
    cursors = [encode_cursor(sort, [row[name] for name, _ in sort.keys]) for row in page.rows]
    return connection([node(row) for row in page.rows], cursors, page.has_more)
