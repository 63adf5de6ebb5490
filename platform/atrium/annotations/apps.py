from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "atrium.annotations"
    label = "annotations"
