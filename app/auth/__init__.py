"""Accounts: users and their passwords, sessions, API tokens, sign-in and the audit log."""

from app.auth.principal import Principal, SignedInBy

__all__ = ["Principal", "SignedInBy"]
