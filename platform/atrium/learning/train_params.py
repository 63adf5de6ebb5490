"""The checks on a `train` job's parameters: at the API (a 400 before anything is queued) and again in the
handler. Only `arch` and `restarts` are checked; the other parameters keep their defaults in
atrium.learning.training."""

from __future__ import annotations

from typing import Any

from atrium.learning.models import ModelFamily
from atrium.studies.models import Study, TaskKind

# The segmentation architectures: the 2D FCN and U-Net per slice, the 3D DeepMedic per short-axis stack.
ARCHES = ("fcn", "unet", "deepmedic")
DEFAULT_ARCH = "fcn"
# A segmentation job retrains at most this many times after a run that never learnt some structure.
MAX_RESTARTS = 3
RESTARTABLE_ARCHES = ("fcn", "unet")


def family_for(study: Study) -> str:
    """The family a study's models belong to when a job does not name one."""
    return ModelFamily.CLASSIFICATION if study.task_kind == TaskKind.ULTRASOUND else ModelFamily.SEGMENTATION


def train_family(study: Study, params: dict[str, Any]) -> str:
    """The family a train job trains: its `family` param, else the study's."""
    return str(params.get("family") or family_for(study))


def parse_arch(study: Study, params: dict[str, Any]) -> str:
    """The segmentation architecture a train job asks for (fcn when unset); a ValueError names a bad one."""
    arch = params.get("arch")
    family = train_family(study, params)
    if arch is None:
        return DEFAULT_ARCH
    if not isinstance(arch, str) or arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHES)}")
    if family != ModelFamily.SEGMENTATION and arch != DEFAULT_ARCH:
        raise ValueError(f"arch {arch!r} is a segmentation architecture; this job trains a {family} model")
    return arch


def parse_restarts(study: Study, params: dict[str, Any]) -> int:
    """The `restarts` a train job asks for (0 when unset); a ValueError names a bad one, or one asked of a
    model that has none (restarts belong to the 2D segmenters, fcn and unet)."""
    restarts = params.get("restarts", 0)
    if isinstance(restarts, bool) or not isinstance(restarts, int) or not 0 <= restarts <= MAX_RESTARTS:
        raise ValueError(f"restarts must be an integer from 0 to {MAX_RESTARTS}, not {restarts!r}")
    family, arch = train_family(study, params), parse_arch(study, params)
    if restarts and (family != ModelFamily.SEGMENTATION or arch not in RESTARTABLE_ARCHES):
        model = f"a {family} model" if family != ModelFamily.SEGMENTATION else f"arch {arch!r}"
        raise ValueError(
            f"restarts apply to the 2D segmenters ({', '.join(RESTARTABLE_ARCHES)}), not to {model}"
        )
    return restarts


def validated_train_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    """The API's check: the params with `arch` filled in for segmentation models, or a 400 naming it."""
    from rest_framework.exceptions import ValidationError

    try:
        arch = parse_arch(study, params)
        parse_restarts(study, params)
    except ValueError as exc:
        raise ValidationError({"params": str(exc)}) from None
    if train_family(study, params) == ModelFamily.SEGMENTATION:
        return {**params, "arch": arch}
    return dict(params)
