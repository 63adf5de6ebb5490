from __future__ import annotations

from rest_framework import serializers

from atrium.learning.models import Job, JobKind


class JobSerializer(serializers.ModelSerializer):
    study: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    queue = serializers.CharField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "state",
            "queue",
            "study",
            "params",
            "progress",
            "progress_detail",
            "message",
            "error",
            "result",
            "attempts",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
        ]


class JobCreateSerializer(serializers.Serializer):
    # Ingest jobs come from uploads and the CLI, never from a server path given over the API.
    kind = serializers.ChoiceField(choices=[c for c in JobKind.choices if c[0] != JobKind.INGEST])
    study = serializers.SlugField()
    params = serializers.DictField(required=False, default=dict)


class ModelVersionSerializer(serializers.ModelSerializer):
    study = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    parent = serializers.SerializerMethodField()  # type: ignore[assignment]

    class Meta:
        from atrium.learning.models import ModelVersion

        model = ModelVersion
        fields = [
            "id",
            "study",
            "family",
            "number",
            "config",
            "metrics",
            "training_set",
            "parent",
            "promoted",
            "created_at",
        ]

    def get_parent(self, version) -> int | None:  # type: ignore[no-untyped-def]
        return version.parent.number if version.parent_id else None
