from django.urls import include, path
from rest_framework.views import APIView


class BoomView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        raise RuntimeError("a bug")


urlpatterns = [
    path("v1/boom", BoomView.as_view()),
    path("", include("exchange.urls")),
]
