"""factory_boy factories for the platform's objects."""

from __future__ import annotations

import factory
import numpy as np

from atrium.accounts.models import Role, User
from atrium.imaging.models import ImagingStudy, Layout, Patient, Series
from atrium.imaging.pixel_store import get_pixel_store
from atrium.studies.models import Case, Study, TaskKind


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.ANNOTATOR
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study

    slug = factory.Sequence(lambda n: f"study-{n}")
    name = factory.Sequence(lambda n: f"Study {n}")
    task_kind = TaskKind.CARDIAC


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    study = factory.SubFactory(StudyFactory)
    pseudonym = factory.Sequence(lambda n: f"ATR-{n:06d}")


class ImagingStudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImagingStudy

    patient = factory.SubFactory(PatientFactory)
    study_instance_uid = factory.Sequence(lambda n: f"2.25.{1000 + n}")


def _store_array(series: Series, shape: list[int], dtype: str) -> str:
    rng = np.random.default_rng(len(shape) * 1000 + sum(shape))
    array = rng.integers(0, 1000, size=shape).astype(dtype)
    store = get_pixel_store()
    key = store.new_key("series")
    store.write(key, array)
    return key


class SeriesFactory(factory.django.DjangoModelFactory):
    """A series with a small random array really written to the pixel store."""

    class Meta:
        model = Series
        skip_postgeneration_save = True

    imaging_study = factory.SubFactory(ImagingStudyFactory)
    series_instance_uid = factory.Sequence(lambda n: f"2.25.{500000 + n}")
    modality = "MR"
    layout = Layout.CINE
    shape = factory.LazyFunction(lambda: [2, 3, 16, 16])
    dtype = "uint16"
    pixel_spacing_mm = factory.LazyFunction(lambda: [1.5, 1.5])
    slice_thickness_mm = 8.0
    window_center = 500.0
    window_width = 1000.0
    store_key = factory.LazyAttribute(lambda o: "")

    @factory.post_generation
    def with_pixels(obj, create, extracted, **kwargs):
        if create and not obj.store_key:
            obj.store_key = _store_array(obj, list(obj.shape), obj.dtype)
            obj.save(update_fields=["store_key"])


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    study = factory.SubFactory(StudyFactory)
    series = factory.SubFactory(SeriesFactory)
    title = factory.Sequence(lambda n: f"Case {n}")
