from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "atrium.learning"
    label = "learning"

    def ready(self) -> None:
        from atrium.learning import (
            adaptation,  # noqa: F401 - registers the adapt handler
            handlers,  # noqa: F401 - registers the job handlers
            simulation_jobs,  # noqa: F401 - registers the simulate handler
        )
