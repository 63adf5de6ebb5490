from django.apps import AppConfig


class AnnotationUiConfig(AppConfig):
    name = "annotation_ui"
    label = "annotation_ui"
