from apps.core.errors import DomainError, ErrorCode


class InsufficientFunds(DomainError):
    code = ErrorCode.ACCOUNT_INSUFFICIENT_FUNDS


class InvalidTransfer(DomainError):
    code = ErrorCode.ACCOUNT_INVALID_TRANSFER
