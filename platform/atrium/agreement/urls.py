"""Agreement routes: REST under /api/ and report pages under /reports/ (wired in atrium/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from atrium.agreement import api, views

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("studies/<slug:slug>/agreement/", api.AgreementReportView.as_view(), name="agreement-report"),
    path(
        "studies/<slug:slug>/agreement/recompute/",
        api.AgreementRecomputeView.as_view(),
        name="agreement-recompute",
    ),
    path("studies/<slug:slug>/exports/<str:kind>/", api.ReadsExportView.as_view(), name="reads-export"),
]
page_urlpatterns: list[URLPattern | URLResolver] = [
    path("<slug:slug>/", views.report_page, name="agreement-page"),
    path("<slug:slug>/report.pdf", views.report_pdf, name="agreement-pdf"),
]
