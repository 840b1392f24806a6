from django.urls import path

from apps.orders.api import amend, batch, views

urlpatterns = [
    path("orders", views.OrderListCreateView.as_view(), name="orders"),
    path(
        "orders/cancel-all",
        views.OrderCancelAllView.as_view(),
        name="orders-cancel-all",
    ),
    path(
        "orders/cancel-all-after",
        views.CancelAllAfterView.as_view(),
        name="orders-cancel-all-after",
    ),
    path("orders/batch", batch.OrderBatchPlaceView.as_view(), name="orders-batch"),
    path(
        "orders/cancel-batch",
        batch.OrderBatchCancelView.as_view(),
        name="orders-cancel-batch",
    ),
    path("orders/<str:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path(
        "orders/<str:order_id>/cancel",
        views.OrderCancelView.as_view(),
        name="order-cancel",
    ),
    path(
        "orders/<str:order_id>/amend",
        amend.OrderAmendView.as_view(),
        name="order-amend",
    ),
    path("fills", views.FillListView.as_view(), name="fills"),
]
