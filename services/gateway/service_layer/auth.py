"""Signing in and adding staff users."""

from __future__ import annotations

from services.gateway.domain.access import Role, StaffUser, new_user, normal_email
from services.gateway.service_layer.ports import NameTaken, Passwords, Users

MIN_PASSWORD = 12


class EmailTaken(ValueError):
    field = "email"
    reason = "is already in use by another account; choose another email"


class NameInUse(ValueError):
    field = "name"
    reason = "another user of the shop has this name (jobs name their technicians)"


class WeakPassword(ValueError):
    field = "password"
    reason = f"must be at least {MIN_PASSWORD} characters"


def sign_in(email: str, password: str, users: Users, passwords: Passwords) -> StaffUser | None:
    """The user, or None for a wrong email or password (the same answer and about the same time
    either way: an unknown email still costs one hash check)."""
    found = users.by_email(normal_email(email))
    if found is None:
        passwords.matches(_decoy(passwords), password)
        return None
    user, password_hash = found
    return user if passwords.matches(password_hash, password) else None


_decoys: dict[type[Passwords], str] = {}


def _decoy(passwords: Passwords) -> str:
    """One hash per kind of hasher, made once: an unknown email costs one check, like a known
    one, and nothing accumulates."""
    kind = type(passwords)
    if kind not in _decoys:
        _decoys[kind] = passwords.hash("not anyone's password")
    return _decoys[kind]


def add_user(
    shop_id: str,
    email: str,
    name: str,
    role: Role,
    password: str,
    users: Users,
    passwords: Passwords,
) -> StaffUser:
    """A user added or reset by an operator (the users CLI, demo data): their email's account is
    replaced, and its earlier sessions end."""
    user, password_hash = _user_with(shop_id, email, name, role, password, passwords)
    users.add(user, password_hash)
    return user


def invite(
    shop_id: str,
    email: str,
    name: str,
    role: Role,
    password: str,
    users: Users,
    passwords: Passwords,
) -> StaffUser:
    """A new user of the shop; never one that already signs in (here or at another shop)."""
    user, password_hash = _user_with(shop_id, email, name, role, password, passwords)
    if any(u.name.lower() == user.name.lower() for u in users.of_shop(shop_id)):
        raise NameInUse(NameInUse.reason)
    try:
        made = users.create(user, password_hash)
    except NameTaken as exc:  # the same name added a moment ago
        raise NameInUse(NameInUse.reason) from exc
    if not made:
        raise EmailTaken(EmailTaken.reason)
    return user


def _user_with(
    shop_id: str, email: str, name: str, role: Role, password: str, passwords: Passwords
) -> tuple[StaffUser, str]:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(WeakPassword.reason)
    return new_user(shop_id, email, name, role), passwords.hash(password)
