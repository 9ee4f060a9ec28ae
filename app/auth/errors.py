"""What goes wrong with accounts, grouped by what the caller does next."""

from __future__ import annotations


class AccountError(Exception):
    """Base of the account errors; `message` is one sentence for the person at the keyboard."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AccountInputError(AccountError):
    """A user name, password or token name that cannot be accepted (fix it and retry)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownUserError(AccountError):
    """No account of that name (the operator's commands; sign-in never says so)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"there is no user {username!r}: `strategylab users list` shows them")
        self.username = username


class SignInRefusedError(AccountError):
    """Wrong user name or password, or a disabled account: deliberately one message."""

    def __init__(self) -> None:
        super().__init__("the user name or the password is wrong")


class SignInThrottledError(AccountError):
    """Too many failed sign-ins for this user name or this address; retry after a while."""

    def __init__(self, *, failures: int, window_s: int, retry_after_s: int) -> None:
        minutes = max(1, round(window_s / 60))
        super().__init__(
            f"{failures} failed sign-ins in the last {minutes} minutes: wait "
            f"{retry_after_s} seconds before trying again"
        )
        self.failures = failures
        self.retry_after_s = retry_after_s
