from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "atrium.learning"
    label = "learning"

    def ready(self) -> None:
        from atrium.learning import handlers  # noqa: F401 - registers the job handlers
