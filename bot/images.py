"""Images that leave through the outbox (a report's chart): the row carries
{"image": {"media_asset_id", "filename"}} and the platform sender uploads the bytes at delivery,
since media uploaded to either platform live only a few days."""
from __future__ import annotations

from typing import Any

from storage import media
from storage.models import MediaAsset

from .errors import PermanentError
from .services import Services


def read_image(rt: Services, image: dict[str, Any]) -> tuple[bytes, str, str]:
    """An outbox image payload → (bytes, content type, filename)."""
    with rt.db.transaction() as session:
        asset = session.get(MediaAsset, image["media_asset_id"])
        if asset is None:
            raise PermanentError(f"media asset {image['media_asset_id']} is gone")
        return media.read_media(asset), asset.content_type, image.get("filename") or "image.png"
