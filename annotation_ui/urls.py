from django.contrib.auth import views as auth_views
from django.urls import path

from annotation_ui import audit_views, views
from atrium.accounts.views import RateLimitedLoginView
from atrium.learning.simulation_views import learning_curves_page

app_name = "ui"

urlpatterns = [
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.study_list, name="studies"),
    path("studies/<slug:slug>/", views.study_detail, name="study"),
    path("studies/<slug:slug>/audit/", audit_views.study_audit, name="study-audit"),
    path("studies/<slug:slug>/learning-curves/", learning_curves_page, name="learning-curves"),
    path("queue/", views.my_queue, name="queue"),
    path("cases/<int:case_id>/", views.case_page, name="case"),
    path("cases/<int:case_id>/history/", audit_views.case_history_page, name="case-history"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:job_id>/", views.job_page, name="job"),
]
