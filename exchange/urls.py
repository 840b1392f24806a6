from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("exchange.api_urls")),
    path("", include("apps.web.urls")),
]

handler404 = "apps.core.exceptions.json_404"
handler500 = "apps.core.exceptions.json_500"
