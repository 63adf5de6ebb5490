from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "atrium.imaging"
    label = "imaging"
