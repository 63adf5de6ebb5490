from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "atrium.learning"
    label = "learning"
