from django.contrib.auth import views as auth_views
from django.urls import path

from annotation_ui import views
from atrium.accounts.views import RateLimitedLoginView

app_name = "ui"

urlpatterns = [
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.study_list, name="studies"),
    path("studies/<slug:slug>/", views.study_detail, name="study"),
    path("queue/", views.my_queue, name="queue"),
    path("cases/<int:case_id>/", views.case_page, name="case"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:job_id>/", views.job_page, name="job"),
]
