"""Agreement writes: compute and store a study's report (incrementally, on the cpu queue), mark it stale,
ask for a recompute."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from atrium.agreement.breakdown import breakdown, cardiac_summary, planes_summary
from atrium.agreement.breakdown import summaries as summaries_of
from atrium.agreement.compute import CaseTask, aggregate_cardiac, compute_cases, ordered_pairs
from atrium.agreement.models import CachedResult, Report
from atrium.agreement.selectors import _digest, series_geometry, study_reads
from atrium.studies.models import Study

# Bump when a change to the computation makes cached per-case results wrong.
ALGORITHM_VERSION = 1
Progress = Callable[[float, str], None]


def mark_stale(*, study: Study) -> None:
    """Call after an annotation of the study is created, changed or deleted."""
    # Only rows not yet stale: every save calls this, and rewriting a stale row costs a write and a commit.
    Report.objects.filter(study=study, stale=False).update(stale=True)


def request_recompute(*, study: Study, requested_by: Any = None) -> Any:
    """Mark the report stale and queue a "report" job on the cpu queue, unless one is already queued."""
    from atrium.learning.models import Job, JobKind, JobState
    from atrium.learning.services import enqueue_job

    with transaction.atomic():
        mark_stale(study=study)
        queued = Job.objects.filter(study=study, kind=JobKind.REPORT, state=JobState.QUEUED).first()
        if queued is not None:
            return queued
        return enqueue_job(kind=JobKind.REPORT, study=study, created_by=requested_by)


def _case_meta(case: Any) -> dict[str, Any]:
    return {"id": case.pk, "title": case.title, "site": case.site, "vendor": case.vendor, "split": case.split}


def compute_report(*, study: Study, progress: Progress | None = None, processes: int | None = None) -> Report:
    """Compute the study's agreement report and store it. Cardiac per-case results are cached by the
    annotation versions / predictions they came from, so only changed cases are recomputed."""
    started = timezone.now()
    t0 = time.perf_counter()
    say = progress or (lambda fraction, message: None)
    say(0.02, "collecting reads")
    reads = study_reads(study)
    stats: dict[str, Any] = {"cases": len(reads.cases)}
    if study.task_kind == "cardiac":
        data = _cardiac(study, reads, say, processes, stats)
    else:
        data = _ultrasound(reads)
    data.update(
        {
            "study": study.slug,
            "task_kind": study.task_kind,
            "readers": [r.as_dict() for r in reads.readers],
            "cases": [_case_meta(c) for c in reads.cases],
            "compute": {**stats, "seconds": round(time.perf_counter() - t0, 3)},
        }
    )
    say(0.98, "saving the report")
    from atrium.agreement.selectors import annotation_changes_since

    with transaction.atomic():
        report, _ = Report.objects.select_for_update().get_or_create(study=study)
        report.data = data
        report.computed_at = started
        report.stale = annotation_changes_since(study, started) > 0
        report.save()
    return report


def _cardiac(
    study: Study, reads: Any, say: Progress, processes: int | None, stats: dict[str, Any]
) -> dict[str, Any]:
    from atrium.imaging.pixel_store import get_pixel_store

    pairs = ordered_pairs(reads.readers)
    cached = {
        (case_id, key): data
        for case_id, key, data in CachedResult.objects.filter(study=study).values_list(
            "case_id", "key", "data"
        )
    }
    summaries: dict[str, dict[str, dict[str, Any]]] = {}
    pair_results: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    wanted: set[tuple[int, str]] = set()
    tasks: list[CaseTask] = []
    keys_of_task: list[tuple[int, dict[str, str], dict[tuple[str, str], str]]] = []
    for case in reads.cases:
        case_reads = reads.reads.get(case.pk, {})
        if not case_reads:
            continue
        shape, spacing, slice_mm = series_geometry(case)
        context = _digest(ALGORITHM_VERSION, shape, spacing, slice_mm, case.ed_phase, case.es_phase)
        s_keys = {k: _digest("s", context, r.signature) for k, r in case_reads.items()}
        p_keys = {
            (a.key, b.key): _digest("p", context, case_reads[a.key].signature, case_reads[b.key].signature)
            for a, b, _ in pairs
            if a.key in case_reads and b.key in case_reads
        }
        cid = str(case.pk)
        summaries[cid], pair_results[cid] = {}, {}
        todo_s, todo_p = [], []
        for k, key in s_keys.items():
            wanted.add((case.pk, key))
            if (case.pk, key) in cached:
                summaries[cid][k] = cached[(case.pk, key)]
            else:
                todo_s.append(k)
        for p, key in p_keys.items():
            wanted.add((case.pk, key))
            if (case.pk, key) in cached:
                pair_results[cid][p] = cached[(case.pk, key)]
            else:
                todo_p.append(p)
        if todo_s or todo_p:
            tasks.append(
                CaseTask(
                    cid,
                    shape,
                    spacing,
                    slice_mm,
                    (case.ed_phase, case.es_phase),
                    case_reads,
                    summaries=todo_s,
                    pairs=todo_p,
                )
            )
            keys_of_task.append((case.pk, s_keys, p_keys))
    stats.update({"cases_recomputed": len(tasks), "cases_cached": len(summaries) - len(tasks)})
    say(0.05, f"computing {len(tasks)} changed cases of {len(summaries)}")

    def on_case(done: int, total: int) -> None:
        if done == total or done % max(1, total // 20) == 0:
            say(0.05 + 0.85 * done / max(total, 1), f"computed {done}/{total} cases")

    store = get_pixel_store()
    results = compute_cases(tasks, opener=store.open, processes=processes, progress=on_case)
    new_rows = []
    for task, (case_id, s_keys, p_keys), result in zip(tasks, keys_of_task, results, strict=True):
        for k, summary in result["summaries"].items():
            summaries[task.case_id][k] = summary
            new_rows.append(CachedResult(study=study, case_id=case_id, key=s_keys[k], data=summary))
        for p, metrics in result["pairs"].items():
            pair_results[task.case_id][p] = metrics
            new_rows.append(CachedResult(study=study, case_id=case_id, key=p_keys[p], data=metrics))
    say(0.92, "aggregating")
    with transaction.atomic():
        CachedResult.objects.bulk_create(new_rows, ignore_conflicts=True, batch_size=500)
        stale_ids = [
            pk
            for pk, case_id, key in CachedResult.objects.filter(study=study).values_list(
                "pk", "case_id", "key"
            )
            if (case_id, key) not in wanted
        ]
        for start in range(0, len(stale_ids), 500):
            CachedResult.objects.filter(pk__in=stale_ids[start : start + 500]).delete()
    report = aggregate_cardiac(reads.readers, summaries, pair_results)
    per_case = {cid: (summaries[cid], pair_results[cid]) for cid in summaries}

    def sub_report(subset: dict[str, Any]) -> dict[str, Any]:
        return aggregate_cardiac(
            reads.readers, {c: v[0] for c, v in subset.items()}, {c: v[1] for c, v in subset.items()}
        )

    parts = breakdown([_case_meta(c) for c in reads.cases], per_case, sub_report)
    report["breakdown"] = parts
    report["by_group"] = summaries_of(parts, cardiac_summary)
    return report


def _ultrasound(reads: Any) -> dict[str, Any]:
    from atrium.agreement.planes import aggregate_planes, frames_from_prediction, frames_from_ranges

    clips: dict[str, dict[str, Any]] = {}
    for case in reads.cases:
        n_frames = int(case.series.shape[0])
        per = {}
        for key, items in reads.planes.get(case.pk, {}).items():
            if key.startswith("model:"):
                per[key] = frames_from_prediction(items[0]["frames"], n_frames)
            else:
                per[key] = frames_from_ranges(items, n_frames)
        if per:
            clips[str(case.pk)] = per
    parts = breakdown(
        [_case_meta(c) for c in reads.cases],
        clips,
        lambda subset: {"planes": aggregate_planes(reads.readers, subset)},
    )
    return {
        "planes": aggregate_planes(reads.readers, clips),
        "breakdown": parts,
        "by_group": summaries_of(parts, planes_summary),
    }
