"""Job handlers: each turns a claimed job into calls to a service and returns a JSON-able result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atrium.learning.models import Job, JobKind
from atrium.learning.services import JobReporter, register_handler


@register_handler(JobKind.INGEST)
def ingest(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from atrium.imaging.services import ingest_sources
    from atrium.imaging.sources import count_sources, iter_sources
    from atrium.studies.models import Study

    root = Path(job.params["path"])
    study = job.study or Study.objects.get(slug=job.params["study"])
    total = count_sources(root)

    def progress(done: int, total_: int, name: str) -> None:
        if done % 20 == 0 or done == total_:
            reporter.progress(done / max(total_, 1) * 0.9, f"decoded {done}/{total_} files", files=done)

    report = ingest_sources(
        study=study,
        sources=iter_sources(root),
        site=job.params.get("site", ""),
        progress=progress,
        total=total,
    )
    return report.as_dict()


def _job_dir(job: Job) -> Path:
    from django.conf import settings

    path = Path(settings.MEDIA_ROOT) / "jobs" / str(job.pk)
    path.mkdir(parents=True, exist_ok=True)
    return path


@register_handler(JobKind.TRAIN)
def train(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from atrium.learning.models import ModelFamily, ModelVersion
    from atrium.learning.registry import promote, promoted_version
    from atrium.learning.services import enqueue_job
    from atrium.learning.training import train_for_study

    study = job.study
    if study is None:
        raise ValueError("a training job needs a study")
    checkpoint = _job_dir(job) / "checkpoint.pt"
    # An attempt that registered its model and then lost its worker must not register a second one.
    version = ModelVersion.objects.filter(study=study, config__job=job.pk).first()
    if version is None:
        version = train_for_study(
            study=study,
            params=job.params,
            progress=lambda fraction, message, detail: reporter.progress(fraction, message, **detail),
            should_stop=reporter.should_stop,
            checkpoint_path=checkpoint,
            created_by=job.created_by,
            job_id=job.pk,
        )
        if job.params.get("promote", True) or promoted_version(study, version.family) is None:
            promote(version=version, actor=job.created_by)
        # Inference jobs score the annotation pool; a reconstruction model has nothing to score there.
        if job.params.get("infer_after", True) and version.family != ModelFamily.RECONSTRUCTION:
            enqueue_job(
                kind=JobKind.INFER,
                study=study,
                params={"model_version": version.pk},
                created_by=job.created_by,
            )
    for leftover in (checkpoint, checkpoint.with_name("checkpoint.card.json")):
        leftover.unlink(missing_ok=True)
    return {
        "model_version": version.pk,
        "number": version.number,
        "family": version.family,
        "metrics": version.metrics,
        "resumed_from_step": version.config.get("resumed_from_step"),
    }


@register_handler(JobKind.RECONSTRUCT)
def reconstruct(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from atrium.learning.models import ModelFamily
    from atrium.learning.reconstruction import parse_reconstruct_params, reconstruct_case
    from atrium.learning.registry import promoted_version

    study = job.study
    if study is None:
        raise ValueError("a reconstruction job needs a study")
    params = parse_reconstruct_params(study, job.params)
    version = params.model_version or promoted_version(study, ModelFamily.RECONSTRUCTION)
    if version is None:
        raise ValueError(
            f"study {study.slug} has no promoted reconstruction model; train one first "
            "(a train job with family 'reconstruction') or name a model_version"
        )
    return reconstruct_case(
        job_id=job.pk,
        case=params.case,
        version=version,
        acceleration=params.acceleration,
        seed=params.seed,
        progress=lambda fraction, message, detail: reporter.progress(fraction, message, **detail),
    )


@register_handler(JobKind.INFER)
def infer(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from atrium.learning.inference import infer_study
    from atrium.learning.models import ModelVersion
    from atrium.learning.queue import rerank_queue
    from atrium.learning.registry import promoted_version
    from atrium.learning.scoring import rank_cases
    from atrium.learning.train_params import family_for
    from atrium.studies.models import CaseStatus

    study = job.study
    if study is None:
        raise ValueError("an inference job needs a study")
    version_id = job.params.get("model_version")
    version = (
        ModelVersion.objects.get(pk=version_id, study=study)
        if version_id
        else promoted_version(study, family_for(study))
    )
    if version is None:
        raise ValueError(f"study {study.slug} has no trained model to run; start a training job first")
    strategy = job.params.get("strategy") or study.al_strategy
    # Disagreement looks at cases that already have reads; the other strategies at the unfinished pool.
    cases = (
        study.cases.all() if strategy == "disagreement" else study.cases.exclude(status=CaseStatus.COMPLETE)
    ).exclude(series__source="reconstruction")  # derived series are reviewed, not part of the pool
    evidence = infer_study(
        version=version, cases=cases, strategy=strategy, progress=lambda f, m, d: reporter.progress(f, m, **d)
    )
    reporter.progress(0.92, f"scoring the pool by {strategy}")
    from atrium.learning.examples import submitted_cases
    from atrium.studies.services import route_to_further_reader

    labelled = list(submitted_cases(study).values_list("pk", flat=True)) if strategy != "disagreement" else []
    ranked = rank_cases(strategy, evidence, labelled=labelled, seed=job.pk)
    round_ = rerank_queue(study=study, scores=ranked.scores, strategy=strategy, version=version)
    for case in study.cases.filter(pk__in=ranked.needs_further_reader):
        route_to_further_reader(case=case)
    return {
        "model_version": version.pk,
        "cases": len(ranked.scores),
        "round": round_.number,
        "strategy": strategy,
        "routed_to_further_reader": sorted(ranked.needs_further_reader),
    }
