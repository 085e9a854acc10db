from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("docs/errors", views.error_reference, name="error-reference"),
]
