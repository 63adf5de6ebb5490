from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "atrium.accounts"
    label = "accounts"
    verbose_name = "Accounts"
