"""The model registry: versions with weights in storage, lineage, promotion and rollback.

Weights are written (atomically) before the row is created, and removed if the row cannot be created, so a
ModelVersion never exists without its weights and a crash never leaves a half-registered model.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from torch import nn

from atrium import media_mirror
from atrium.atomic_files import write_atomic
from atrium.learning.models import ModelFamily, ModelVersion


def models_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "models"


def register_model_version(
    *,
    study: Any,
    family: str,
    model: nn.Module,
    config: dict[str, Any],
    training_set: list[int],
    metrics: dict[str, Any],
    parent: ModelVersion | None = None,
    created_by: Any = None,
) -> ModelVersion:
    if family not in ModelFamily.values:
        raise ValueError(f"unknown model family {family!r}")
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    with transaction.atomic():
        number = (
            ModelVersion.objects.select_for_update()
            .filter(study=study, family=family)
            .aggregate(n=Max("number"))["n"]
            or 0
        ) + 1
        # A unique name: a number can be reused after a rolled-back transaction, a file never is.
        key = f"{family}/{study.slug if study else 'global'}/v{number:04d}-{uuid.uuid4().hex[:12]}.pt"
        path = models_root() / key
        write_atomic(path, lambda handle: handle.write(buffer.getvalue()))
        try:
            media_mirror.publish(path, f"models/{key}")
            return ModelVersion.objects.create(
                study=study,
                family=family,
                number=number,
                config=config,
                training_set=training_set,
                metrics=metrics,
                parent=parent,
                weights_key=key,
                created_by=created_by,
            )
        except BaseException:
            media_mirror.remove(path, f"models/{key}")
            raise


def load_weights(version: ModelVersion) -> dict[str, torch.Tensor]:
    path = models_root() / version.weights_key
    media_mirror.ensure_local(path, f"models/{version.weights_key}")  # fetched once per pod under S3
    return torch.load(path, map_location="cpu", weights_only=True)


def promoted_version(study: Any, family: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(study=study, family=family, promoted=True).first()


def latest_version(study: Any, family: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(study=study, family=family).order_by("-number").first()


@transaction.atomic
def promote(*, version: ModelVersion, actor: Any = None, action: str = "model.promote") -> ModelVersion:
    """Make `version` the one that serves pre-annotation for its study and family."""
    from atrium.accounts.services import record_audit

    previous = promoted_version(version.study, version.family)
    ModelVersion.objects.filter(study=version.study, family=version.family, promoted=True).update(
        promoted=False
    )
    ModelVersion.objects.filter(pk=version.pk).update(promoted=True)
    version.refresh_from_db()
    record_audit(
        actor=actor,
        action=action,
        obj=version,
        study=version.study,
        before={"promoted": previous.number if previous else None},
        after={"promoted": version.number},
    )
    return version


@transaction.atomic
def rollback(*, study: Any, family: str, actor: Any = None) -> ModelVersion:
    """Promote the version that was serving before the current one (its parent, else the previous number)."""
    current = promoted_version(study, family)
    if current is None:
        raise ValueError(f"no promoted {family} model in this study to roll back from")
    target = current.parent or (
        ModelVersion.objects.filter(study=study, family=family, number__lt=current.number)
        .order_by("-number")
        .first()
    )
    if target is None:
        raise ValueError(f"{family} v{current.number} is the first version; there is nothing to roll back to")
    return promote(version=target, actor=actor, action="model.rollback")
