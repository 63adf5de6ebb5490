from django.apps import AppConfig


class AgreementConfig(AppConfig):
    name = "atrium.agreement"
    label = "agreement"

    def ready(self) -> None:
        from atrium.agreement import jobs  # noqa: F401 - registers the "report" job handler
