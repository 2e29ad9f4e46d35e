"""Media kept by content hash: the same photo sent twice is stored once."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import MediaAsset


def store_media(session: Session, org_id: int, data: bytes, content_type: str,
                media_dir: Path) -> MediaAsset:
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalars(select(MediaAsset).where(MediaAsset.org_id == org_id,
                                                        MediaAsset.sha256 == digest)).first()
    if existing is not None:
        return existing
    path = Path(media_dir) / digest[:2] / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # write then rename: a crash never leaves a half file under the final name
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    asset = MediaAsset(org_id=org_id, sha256=digest, content_type=content_type[:100],
                       size=len(data), path=str(path))
    session.add(asset)
    session.flush()
    return asset


def read_media(asset: MediaAsset) -> bytes:
    return Path(asset.path).read_bytes()
