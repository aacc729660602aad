from datetime import datetime
from typing import Any

from pydantic import BaseModel

from service.adapters.service import BaseStatus, base_status
from service.models import Adapter


class AdapterPublic(BaseModel):
    id: int
    name: str
    version: int
    job_id: int | None
    active: bool
    base_fingerprint: str
    # "matches" the loaded base model (can serve), "side_base" (serves on another base model
    # loaded beside it), "stale" (trained for a base not loaded: the base model answers
    # instead; retrain it), "unknown" (the base model is not loaded yet).
    base_status: BaseStatus
    path: str  # the adapter's directory (PEFT files + manifest), as the workers wrote it
    evaluation: dict[str, Any] | None
    hyperparameters: dict[str, Any] | None
    replaced_id: int | None
    promoted_at: datetime | None
    created_at: datetime

    @classmethod
    def of(
        cls,
        adapter: Adapter,
        *,
        name: str,
        version: int,
        base_fingerprint: str | None,
        side: frozenset[str] = frozenset(),
    ) -> "AdapterPublic":
        return cls(
            id=adapter.id,
            name=name,
            version=version,
            job_id=adapter.job_id,
            active=adapter.active,
            base_fingerprint=adapter.base_fingerprint,
            base_status=base_status(adapter, base_fingerprint=base_fingerprint, side=side),
            path=adapter.path,
            evaluation=adapter.evaluation,
            hyperparameters=adapter.manifest.get("hyperparameters"),
            replaced_id=adapter.replaced_id,
            promoted_at=adapter.promoted_at,
            created_at=adapter.created_at,
        )
