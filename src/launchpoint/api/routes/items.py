from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from launchpoint.api.deps import Workspace
from launchpoint.api.schemas import IngestPublic, ItemBatch, public_record
from launchpoint.domain.records import ItemIn

router = APIRouter(prefix="/v1/items", tags=["items"])


@router.post("", response_model=IngestPublic, status_code=201, summary="Create or replace an item")
def put_item(item: ItemIn, ws: Workspace) -> IngestPublic:
    return IngestPublic(**ws.add_items([item]).as_dict())


@router.post(
    "/batch", response_model=IngestPublic, status_code=201, summary="Create or replace many items"
)
def put_items(batch: ItemBatch, ws: Workspace) -> IngestPublic:
    return IngestPublic(**ws.add_items(batch.items).as_dict())


@router.get("/{item_id:path}", summary="One item (ids may contain '/')")
def get_item(item_id: str, ws: Workspace) -> dict[str, Any]:
    return public_record(ws.item(item_id))
