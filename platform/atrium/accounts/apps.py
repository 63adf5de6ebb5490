from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "atrium.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from atrium.accounts import schema  # noqa: F401 - registers the OpenAPI description of token auth
