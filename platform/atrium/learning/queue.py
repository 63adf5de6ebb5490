"""Active-learning rounds and the study queue: score the pool, re-rank it, record the round."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from atrium.learning.models import ModelVersion, QueueItem, Round
from atrium.studies.models import Study


@transaction.atomic
def rerank_queue(
    *, study: Study, scores: dict[int, float], strategy: str, version: ModelVersion | None
) -> Round:
    """Write the study-wide queue (user = None) from per-case scores and record a new round.

    Priorities are the scores' ranks scaled to (0, 1] so that strategies with different score ranges are
    comparable on the queue page; the raw score is kept too."""
    number = (Round.objects.filter(study=study).aggregate(n=Max("number"))["n"] or 0) + 1
    from atrium.learning.examples import submitted_cases

    round_ = Round.objects.create(
        study=study,
        number=number,
        model_version=version,
        strategy=strategy,
        n_labelled=submitted_cases(study).count(),
        metrics=dict(version.metrics) if version else {},
    )
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    n = len(ordered)
    existing = {
        q.case_id: q for q in QueueItem.objects.filter(study=study, user__isnull=True, case_id__in=scores)
    }
    to_create, to_update = [], []
    for rank, (case_id, score) in enumerate(ordered):
        priority = (n - rank) / n
        item = existing.get(case_id)
        if item is None:
            to_create.append(
                QueueItem(
                    study=study,
                    case_id=case_id,
                    priority=priority,
                    score=score,
                    reason=strategy,
                    round=round_,
                )
            )
        else:
            item.priority, item.score, item.reason, item.round = priority, score, strategy, round_
            to_update.append(item)
    QueueItem.objects.bulk_create(to_create, batch_size=2000)
    QueueItem.objects.bulk_update(to_update, ["priority", "score", "reason", "round"], batch_size=2000)

    def notify() -> None:
        from annotation_ui.groups import push, user_group

        for user_id in study.memberships.values_list("user_id", flat=True):
            push(user_group(user_id), "queue.changed", {"study": study.slug, "round": number})

    transaction.on_commit(notify)
    return round_


def queue_for(study: Study, limit: int = 100) -> Any:
    return (
        QueueItem.objects.filter(study=study, user__isnull=True)
        .select_related("case")
        .order_by("-priority", "id")[:limit]
    )
