from apps.core.errors import DomainError, ErrorCode


class OrderNotFound(DomainError):
    code = ErrorCode.ORDER_NOT_FOUND


class ClientOrderIdConflict(DomainError):
    code = ErrorCode.ORDER_CLIENT_ID_CONFLICT


class InvalidOrder(DomainError):
    code = ErrorCode.ORDER_INVALID_PARAMETERS
