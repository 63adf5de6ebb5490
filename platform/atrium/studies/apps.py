from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "atrium.studies"
    label = "studies"
