"""Settings (owner only): Automations (the reminder policies, kept by notifications), Payments
(card limit and branding, kept by invoicing), users and roles (kept here)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, abort, flash, redirect, render_template, request, url_for

from services.gateway.domain.access import ROLES, Role, normal_email
from services.gateway.entrypoints.web import (
    REFUSED,
    Deps,
    FormError,
    cents,
    me,
    reasons,
    requires,
    text,
)
from services.gateway.service_layer import auth
from services.gateway.service_layer.ports import LastOwner

CUSTOMER_TYPES = {
    "residential": "Homeowners (residential)",
    "commercial": "Businesses (commercial)",
    "property_manager": "Property managers",
}
CHANNELS = {"sms": "Text", "email": "Email"}
QUIET_HOURS = {"quiet_hours_start": "Quiet hours start", "quiet_hours_end": "Quiet hours end"}
MAX_ROWS = 13
"""Step rows read from the Automations form: a policy's 12 steps at most, plus the empty one."""
PAYMENT_FIELDS = ("name", "number_prefix", "card_max_cents", "logo_url", "color", "time_zone")
TIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Halifax",
)
KEEP_AN_OWNER = "the shop must keep an owner: another owner can change your role or remove you"


def register(app: Flask, deps: Deps) -> None:
    @app.get("/settings")
    @requires("settings")
    def settings() -> str:
        return render_template("settings.html", title="Settings", inbox=deps.inbox_url)

    _automations(app, deps)
    _payments(app, deps)
    _users(app, deps)


# Automations ------------------------------------------------------------------------------------


def _automations(app: Flask, deps: Deps) -> None:
    @app.route("/settings/automations", methods=["GET", "POST"])
    @requires("settings")
    def automations() -> Any:
        shop = me().shop_id
        if request.method == "GET":
            return _automations_page(deps.notifications().automations(shop))
        try:
            deps.notifications().save_automations(shop, automations_body(), me().name)
        except REFUSED as exc:
            said = [friendly(r) for r in reasons(exc)]
            return _automations_page(typed_automations(), said), 422
        flash("Automations saved: reminders follow them from now on.")
        return redirect(url_for("automations"))


def _automations_page(shown: dict[str, Any], refused: list[str] | None = None) -> str:
    return render_template(
        "settings_automations.html",
        title="Automations",
        automations=shown,
        customer_types=CUSTOMER_TYPES,
        channels=CHANNELS,
        refused=refused,
    )


def typed_rows(kind: str) -> list[dict[str, Any]]:
    """A policy's step rows as typed; a row with no message is left out (a removed step)."""
    rows = []
    for row in range(MAX_ROWS):
        field = f"{kind}-{row}-"
        message = request.form.get(field + "message", "").strip()
        if message:
            days = request.form.get(field + "days", "").strip()
            chosen = [c for c in request.form.getlist(field + "channel") if c in CHANNELS]
            rows.append({"days": days, "channels": chosen, "message": message})
    return rows


def typed_automations() -> dict[str, Any]:
    """The form as typed, shaped like the service's automations (days still text)."""
    return {
        "policies": {
            kind: {
                "enabled": request.form.get(f"{kind}-enabled") == "on",
                "steps": typed_rows(kind),
            }
            for kind in CUSTOMER_TYPES
        },
        "quiet_hours_start": request.form.get("quiet_hours_start", "").strip(),
        "quiet_hours_end": request.form.get("quiet_hours_end", "").strip(),
    }


def automations_body() -> dict[str, Any]:
    """What notifications' PUT /settings/automations takes; FormError for a row it cannot read."""
    typed = typed_automations()
    for kind, policy in typed["policies"].items():
        policy["steps"] = [step_of(kind, n, step) for n, step in enumerate(policy["steps"])]
    typed["quiet_hours_start"] = text("quiet_hours_start", 5, required=True)
    typed["quiet_hours_end"] = text("quiet_hours_end", 5, required=True)
    return typed


def step_of(kind: str, n: int, row: dict[str, Any]) -> dict[str, Any]:
    where = f"{CUSTOMER_TYPES[kind]}, step {n + 1}"
    if not re.fullmatch(r"[+-]?[0-9]{1,3}", row["days"]):
        raise FormError(f"{where}, days", "a whole number of days from the due date: -3, 0, 14")
    if not row["channels"]:
        raise FormError(f"{where}, channels", "choose text, email or both")
    return {**row, "days": int(row["days"])}


def friendly(reason: str) -> str:
    """'policies.residential.steps.0.message: …' as the page names it."""
    for field, label in QUIET_HOURS.items():
        if reason.startswith(field + ": "):
            return label + reason.removeprefix(field)
    found = re.match(r"policies\.(\w+)(?:\.steps\.(\d+))?(?:\.(\w+))?: (.*)", reason, re.S)
    if found is None or found[1] not in CUSTOMER_TYPES:
        return reason
    kind, step, field, why = found.groups()
    where = CUSTOMER_TYPES[kind]
    where += f", step {int(step) + 1}" if step is not None else ""
    where += f", {field}" if field else ""
    return f"{where}: {why.removeprefix('Value error, ')}"


# Payments ---------------------------------------------------------------------------------------


def _payments(app: Flask, deps: Deps) -> None:
    @app.route("/settings/payments", methods=["GET", "POST"])
    @requires("settings")
    def payment_settings() -> Any:
        shop = me().shop_id
        current = deps.invoicing().settings(shop)
        if request.method == "GET":
            return _payments_page(current, shown_payments(current))
        try:
            deps.invoicing().save_settings(shop, payments_body(current), me().name)
        except REFUSED as exc:
            return _payments_page(current, request.form.to_dict(), reasons(exc)), 422
        flash("Payment settings saved.")
        return redirect(url_for("payment_settings"))


def _payments_page(
    current: dict[str, Any], shown: dict[str, Any], refused: list[str] | None = None
) -> str:
    return render_template(
        "settings_payments.html",
        title="Payments and branding",
        current=current,
        shown=shown,
        embedded_logo=embedded(current.get("logo_url")),
        time_zones=TIME_ZONES,
        refused=refused,
    )


def embedded(logo_url: str | None) -> bool:
    """An uploaded image (a data URL): too big to travel through the form, so kept unless
    removed."""
    return (logo_url or "").startswith("data:")


def shown_payments(current: dict[str, Any]) -> dict[str, str]:
    """The form's fields filled from invoicing's settings (the card limit in dollars)."""
    whole, part = divmod(int(current["card_max_cents"]), 100)
    logo = current.get("logo_url") or ""
    return {
        "name": current.get("name") or "",
        "number_prefix": current.get("number_prefix") or "",
        "card_max": f"{whole}.{part:02d}",
        "logo_url": "" if embedded(logo) else logo,
        "color": current.get("color") or "#1f6feb",
        "time_zone": current.get("time_zone") or "",
    }


def payments_body(current: dict[str, Any]) -> dict[str, Any]:
    """Every field invoicing's PUT /settings takes (it replaces them all): the form over the
    current settings."""
    body = {k: current.get(k) for k in PAYMENT_FIELDS}
    body.update(
        name=text("name", 200),
        number_prefix=text("number_prefix", 30),
        card_max_cents=cents("card_max"),
        logo_url=logo_of(current.get("logo_url")),
        color=text("color", 7, required=True),
        time_zone=text("time_zone", 64, required=True),
    )
    return body


def logo_of(current: str | None) -> str | None:
    typed = text("logo_url", 2000)
    if typed:
        return typed
    keep = embedded(current) and request.form.get("remove_logo") != "on"
    return current if keep else None


# Users ------------------------------------------------------------------------------------------


def _users(app: Flask, deps: Deps) -> None:
    @app.get("/settings/users")
    @requires("settings")
    def staff_users() -> str:
        return _users_page(deps)

    @app.post("/settings/users")
    @requires("settings")
    def add_staff_user() -> Any:
        try:
            user = auth.invite(
                me().shop_id,
                unused_email(deps),
                text("name", 200, required=True),
                role_of("role"),
                request.form.get("password", ""),
                deps.users(),
                deps.passwords(),
            )
        except (auth.WeakPassword, auth.EmailTaken, auth.NameInUse) as exc:
            return _users_page(deps, [f"{exc.field}: {exc}"], request.form), 422
        except FormError as exc:
            return _users_page(deps, exc.reasons, request.form), 422
        flash(f"{user.name} added as {user.role}: they sign in with {user.email}.")
        return redirect(url_for("staff_users"))

    @app.post("/settings/users/<user_id>/role")
    @requires("settings")
    def change_role(user_id: str) -> Any:
        try:
            role = role_of("role")
        except FormError as exc:
            return _users_page(deps, exc.reasons), 422
        if user_id == me().user_id:
            return _users_page(deps, [f"Your own role stays owner: {KEEP_AN_OWNER}."]), 422
        name = _name_of(deps, user_id)
        try:
            if not deps.users().change_role(me().shop_id, user_id, role):
                abort(404)
        except LastOwner:
            return _users_page(deps, [f"{name} is the shop's last owner"]), 422
        flash(f"{name} is now {role}; they sign in again to carry on.")
        return redirect(url_for("staff_users"))

    @app.post("/settings/users/<user_id>/remove")
    @requires("settings")
    def remove_user(user_id: str) -> Any:
        if user_id == me().user_id:
            return _users_page(deps, [f"You cannot remove yourself: {KEEP_AN_OWNER}."]), 422
        name = _name_of(deps, user_id)
        try:
            if not deps.users().remove(me().shop_id, user_id):
                abort(404)
        except LastOwner:
            return _users_page(deps, [f"{name} is the shop's last owner"]), 422
        flash(f"{name} removed: they can no longer sign in.")
        return redirect(url_for("staff_users"))


def _users_page(deps: Deps, refused: list[str] | None = None, typed: Any = None) -> str:
    return render_template(
        "settings_users.html",
        title="Users and roles",
        staff=deps.users().of_shop(me().shop_id),
        roles=ROLES,
        refused=refused,
        typed=typed or {},
        min_password=auth.MIN_PASSWORD,
    )


def _name_of(deps: Deps, user_id: str) -> str:
    """The user's name for the message (another shop's user has none here: the port says 404)."""
    found = [u.name for u in deps.users().of_shop(me().shop_id) if u.user_id == user_id]
    return found[0] if found else "The user"


def role_of(field: str) -> Role:
    role = request.form.get(field, "")
    if role not in ROLES:
        raise FormError(field, "choose owner, office or technician")
    return role


def unused_email(deps: Deps) -> str:
    """The typed email, refused when it already signs in anywhere (adding it again would move
    that user, and their sessions, to this shop)."""
    email = normal_email(text("email", 254, required=True))
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise FormError("email", "an email address, such as ana@example.com")
    found = deps.users().by_email(email)
    if found is not None and found[0].shop_id == me().shop_id:
        raise FormError("email", f"{found[0].name} is already a user with that email")
    if found is not None:
        raise FormError("email", "is already in use by another account; choose another email")
    return email
