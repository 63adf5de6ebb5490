"""URL routes: pages (annotation_ui), REST API under /api/, OpenAPI schema, admin, health."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from atrium import health
from atrium.accounts.api import (
    CaseHistoryView,
    MeView,
    StudyAuditView,
    StudyMembersView,
    StudyMemberView,
    TokenDetailView,
    TokenListView,
)
from atrium.agreement.urls import api_urlpatterns as agreement_api
from atrium.agreement.urls import page_urlpatterns as agreement_pages
from atrium.annotations.urls import api_urlpatterns as annotation_api
from atrium.imaging.urls import api_urlpatterns as imaging_api
from atrium.imaging.urls import dicomweb_urlpatterns
from atrium.learning.api import CasePredictionsView, JobViewSet, ModelVersionViewSet
from atrium.learning.simulation_api import LearningCurvesView
from atrium.observability.views import metrics
from atrium.studies.api import CaseViewSet, NextCaseView, StudyViewSet

router = DefaultRouter()
router.register("studies", StudyViewSet, basename="study")
router.register("cases", CaseViewSet, basename="case")
router.register("jobs", JobViewSet, basename="job")
router.register("models", ModelVersionViewSet, basename="model-version")

api_patterns = [
    path("me/", MeView.as_view(), name="me"),
    path("queue/next/", NextCaseView.as_view(), name="queue-next"),
    path("tokens/", TokenListView.as_view(), name="tokens"),
    path("cases/<int:case_id>/predictions/", CasePredictionsView.as_view(), name="case-predictions"),
    path("studies/<slug:slug>/learning-curves/", LearningCurvesView.as_view(), name="learning-curves"),
    path("tokens/<int:token_id>/", TokenDetailView.as_view(), name="token-detail"),
    path("studies/<slug:slug>/audit/", StudyAuditView.as_view(), name="study-audit"),
    path("studies/<slug:slug>/members/", StudyMembersView.as_view(), name="study-members"),
    path("studies/<slug:slug>/members/<int:user_id>/", StudyMemberView.as_view(), name="study-member"),
    path("cases/<int:case_id>/history/", CaseHistoryView.as_view(), name="case-history"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *imaging_api,
    *annotation_api,
    *agreement_api,
    *router.urls,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("dicomweb/", include(dicomweb_urlpatterns)),
    path("reports/", include(agreement_pages)),
    path("metrics", metrics, name="metrics"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("", include("annotation_ui.urls")),
]
