from django.apps import AppConfig


class AgreementConfig(AppConfig):
    name = "atrium.agreement"
    label = "agreement"
