"""The base classes of every REST endpoint: public, optionally signed or
signed, and weighted. They are the API key's edge: every app's views stand on
them, so they live here and not in core (which imports no app).

An endpoint subclasses one of them and declares, e.g. (apps/*/api/views.py)::

    class OrderListCreateView(SignedAPIView):
        required_scope = "read"    # signed only: "read" | "trade" | "withdraw"
        rate_weight = 1            # what one call costs of the budget
        query_parameters = {"GET": [OrderListQuerySerializer]}  # as in extend_schema
        def get_required_scope(self):  # when the scope depends on the method
            return "trade" if self.request.method == "POST" else "read"

    class OrderBookView(OptionallySignedAPIView):  # a PublicAPIView
        rate_weight = 1
        def get_rate_weight(self, request):  # when the cost depends on params
            ...

A signed request is checked in this order (docs/signing.md), each failure with
its own code: headers/key -> timestamp -> signature -> nonce (the
authentication, ``apps.apikeys.auth``) -> IP allow-list -> scope -> rate limit.
A public request is only rate-limited, per client IP. Then, for both, the
query string (``apps.core.api.query``), before the handler reads it: a
parameter given twice is VALIDATION_DUPLICATE_PARAM, one the method does not
declare in ``query_parameters`` VALIDATION_UNKNOWN_PARAM. The body is parsed and
checked in the handler.

Every response, errors included, carries X-RateLimit-Limit, -Remaining, -Reset
(epoch seconds of the window's end) and -Cost. A request refused before the
rate-limit step is not charged: its headers show the budget it would have
drawn on (the key's once the key is verified, else the client IP's).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.apikeys import ratelimit
from apps.apikeys.auth import ApiKeyAuthentication
from apps.apikeys.models import SCOPE_RANK, ApiKey, Scope
from apps.apikeys.permissions import check_ip, check_scope
from apps.core import scenarios
from apps.core.api.parsers import check_body_size
from apps.core.api.query import check_query, param_names
from apps.core.errors import DomainError
from exchange.client import signing

log = logging.getLogger(__name__)
_SCOPES = frozenset(scope.value for scope in SCOPE_RANK)


class _WeightedAPIView(APIView):
    """Rate limiting and its headers; not used directly."""

    rate_weight: ClassVar[int] = 1
    # Optional words for the docs when get_rate_weight depends on parameters.
    rate_weight_description: ClassVar[str] = ""
    # The query parameters each method takes, as given to extend_schema's
    # ``parameters`` (query serializers, OpenApiParameters or names); any other
    # is VALIDATION_UNKNOWN_PARAM (apps.core.api.query). Path parameters are
    # not query parameters.
    query_parameters: ClassVar[Mapping[str, Sequence[Any]]] = {}

    @classmethod
    def allowed_query_params(cls, method: str) -> tuple[str, ...]:
        """The names of ``query_parameters[method]`` (upper-case method)."""
        return _allowed(cls, method.upper())

    def _check_query(self, request: Request) -> None:
        check_query(
            request.query_params, self.allowed_query_params(request.method or "")
        )

    def get_rate_weight(self, request: Request) -> int:
        """The cost of this request. Override when it depends on the request;
        must not raise for bad parameters (validation reports those later):
        return the weight of the default instead."""
        return self.rate_weight

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        weight = cls.rate_weight
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ImproperlyConfigured(
                f"{cls.__name__}.rate_weight must be an int >= 0"
            )
        return super().as_view(**initkwargs)

    def initialize_request(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> Request:
        drf_request = super().initialize_request(request, *args, **kwargs)
        drf_request.api_key = None  # type: ignore[attr-defined]
        drf_request.rate_usage = None  # type: ignore[attr-defined]
        drf_request.sandbox_scenario = None  # type: ignore[attr-defined]
        return drf_request

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication: a method the path does not have is 405
        # whatever the credentials (the spec is public, nothing leaks), and a
        # body over the limit is refused before it is read whole and hashed.
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method or "")
        check_body_size(request._request)
        super().initial(request, *args, **kwargs)

    def _weight(self, request: Request) -> int:
        try:
            weight = int(self.get_rate_weight(request))
        except (DomainError, ValueError):  # must not raise: see get_rate_weight
            log.warning("%s.get_rate_weight raised", type(self).__name__, exc_info=True)
            weight = self.rate_weight
        return max(0, weight)

    def _budget(self, request: Request) -> ratelimit.Budget:
        api_key = getattr(request, "api_key", None)
        if isinstance(api_key, ApiKey):
            return ratelimit.key_budget(api_key)
        return ratelimit.ip_budget(request._request)

    def _enforce_rate_limit(self, request: Request) -> None:
        usage = ratelimit.charge(self._budget(request), self._weight(request))
        request.rate_usage = usage  # type: ignore[attr-defined]
        if usage.exceeded:
            raise usage.error()

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        usage = getattr(request, "rate_usage", None)
        if usage is None:
            try:
                usage = ratelimit.peek(self._budget(request), self._weight(request))
            except Exception:  # noqa: BLE001 - headers are a courtesy; keep the answer
                log.warning("could not read the rate-limit budget", exc_info=True)
                return response
        for name, value in usage.headers().items():
            response[name] = value
        return response


@functools.cache
def _allowed(view: type[_WeightedAPIView], method: str) -> tuple[str, ...]:
    return param_names(view.query_parameters.get(method, ()))


class PublicAPIView(_WeightedAPIView):
    """An unauthenticated endpoint, rate-limited per client IP
    (``RATE_LIMIT_PUBLIC_WEIGHT_PER_MINUTE``, default 1,200 a minute)."""

    authentication_classes: ClassVar[list[Any]] = []
    permission_classes: ClassVar[list[Any]] = []

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._enforce_rate_limit(request)
        self._check_query(request)


class SignedAPIView(_WeightedAPIView):
    """An endpoint for HMAC-signed requests of an API key with at least
    ``required_scope``. In the handler, ``request.api_key`` is the calling
    :class:`~apps.apikeys.models.ApiKey` and ``request.user`` its owner."""

    required_scope: ClassVar[str] = ""
    authentication_classes: ClassVar[list[Any]] = [ApiKeyAuthentication]
    permission_classes: ClassVar[list[Any]] = []

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        if cls.required_scope not in _SCOPES:
            raise ImproperlyConfigured(
                f"{cls.__name__}.required_scope must be one of "
                f"{', '.join(s.value for s in Scope)}"
            )
        return super().as_view(**initkwargs)

    def get_required_scope(self) -> str:
        """The scope this request needs (``self.request`` is set). Override when
        it depends on the method, e.g. GET read and POST trade on one path."""
        return self.required_scope

    def get_sandbox_scenarios(self) -> Collection[str]:
        """The sandbox scenarios of this endpoint besides the generic ones
        (``apps.core.scenarios``); e.g. order placement's."""
        return ()

    def perform_authentication(self, request: Request) -> None:
        try:
            request.user  # noqa: B018 - runs ApiKeyAuthentication
        except DomainError:
            # Mark the request as anonymous so nothing later re-runs the checks.
            request.user = None
            request.auth = None
            raise
        request.api_key = request.auth  # type: ignore[attr-defined]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication: steps 1-4
        api_key: ApiKey = request.api_key  # type: ignore[attr-defined]
        check_ip(api_key, request._request)
        scope = self.get_required_scope()
        if scope not in _SCOPES:
            raise ImproperlyConfigured(
                f"{type(self).__name__} requires unknown scope {scope!r}"
            )
        check_scope(api_key, scope)
        scenario = scenarios.requested_scenario(
            request.META, applicable=self.get_sandbox_scenarios()
        )
        self._play_generic_scenario(request, scenario)
        self._enforce_rate_limit(request)
        request.sandbox_scenario = scenario  # type: ignore[attr-defined]
        self._check_query(request)

    def _play_generic_scenario(self, request: Request, scenario: str | None) -> None:
        """Sandbox: answer as the real refusals would, without charging."""
        if scenario == scenarios.RATE_LIMITED:
            real = ratelimit.peek(self._budget(request), self._weight(request))
            spent = dataclasses.replace(real, used=real.limit, exceeded=True)
            request.rate_usage = spent  # type: ignore[attr-defined]
            error = spent.error()
            error.details["scenario"] = scenario
            raise error
        if scenario == scenarios.OVERLOADED:
            raise scenarios.overloaded_error()


class OptionallySignedAPIView(PublicAPIView):
    """Public, but a request that carries X-Api-Key gets every check of a signed
    one (signature, timestamp, nonce, IP allow-list, read scope) and then draws
    on the key's rate budget instead of the client IP's."""

    def perform_authentication(self, request: Request) -> None:
        if "HTTP_" + signing.HEADER_KEY.upper().replace("-", "_") not in request.META:
            return
        _user, api_key = ApiKeyAuthentication().authenticate(request)
        check_ip(api_key, request._request)
        check_scope(api_key, "read")
        request.api_key = api_key  # type: ignore[attr-defined]
