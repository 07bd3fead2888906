"""Customer preferences on accounts and contacts: how and when they like to be reached, in
which language, and free-form preference tags (a frequent flyer's "aisle seat", "vegetarian")."""

from __future__ import annotations

import re
from typing import Any

from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import FieldError, ValidationFailed

CHANNELS = ("email", "phone", "sms", "mail", "none")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGE_PATTERN = re.compile(
    r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$"
)
"""A BCP 47 tag's shape: language, optional script, region and variants (`en`, `pt-BR`,
`zh-Hant-TW`, `de-CH-1996`). Shape only: the tag is not looked up in the registry."""
TIME_PATTERN = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
TAG_LIMIT = 20
TAG_LENGTH = 40
CONTACT_TIMES_LIMIT = 14
PREFERENCE_KEYS = ("channel", "language", "contact_times", "tags")


def checked_preferences(raw: Any) -> dict[str, Any]:
    """Preferences as stored: only the keys given, each checked. Errors name
    `preferences.<key>`. `contact_times` is a list of `{days: ["mon", …], from: "09:00",
    to: "17:30"}` windows in the customer's local time."""
    if not isinstance(raw, dict):
        raise ValidationFailed([FieldError("preferences", "must be an object")])
    errors: list[FieldError] = []
    result: dict[str, Any] = {}
    for key in raw:
        if key not in PREFERENCE_KEYS:
            errors.append(
                FieldError(f"preferences.{key}", f"unknown; use {', '.join(PREFERENCE_KEYS)}")
            )
    channel = raw.get("channel")
    if channel is not None:
        if channel not in CHANNELS:
            errors.append(
                FieldError("preferences.channel", f"must be one of: {', '.join(CHANNELS)}")
            )
        else:
            result["channel"] = channel
    language = raw.get("language")
    if language is not None:
        if (
            not isinstance(language, str)
            or len(language) > 35
            or not LANGUAGE_PATTERN.match(language)
        ):
            errors.append(
                FieldError(
                    "preferences.language", "must be a BCP 47 language tag, e.g. en or pt-BR"
                )
            )
        else:
            result["language"] = language
    times = raw.get("contact_times")
    if times is not None:
        windows, time_errors = _contact_times(times)
        errors += time_errors
        result["contact_times"] = windows
    tags = raw.get("tags")
    if tags is not None:
        if (
            not isinstance(tags, list)
            or len(tags) > TAG_LIMIT
            or not all(isinstance(t, str) and t.strip() and len(t) <= TAG_LENGTH for t in tags)
        ):
            errors.append(
                FieldError(
                    "preferences.tags",
                    f"must be at most {TAG_LIMIT} non-blank strings of ≤ {TAG_LENGTH} characters",
                )
            )
        else:
            result["tags"] = list(dict.fromkeys(t.strip() for t in tags))
    if errors:
        raise ValidationFailed(errors)
    return result


def _contact_times(times: Any) -> tuple[list[dict[str, Any]], list[FieldError]]:
    if not isinstance(times, list) or len(times) > CONTACT_TIMES_LIMIT:
        return [], [
            FieldError(
                "preferences.contact_times", f"must be a list of at most {CONTACT_TIMES_LIMIT}"
            )
        ]
    windows: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    for index, window in enumerate(times):
        name = f"preferences.contact_times[{index}]"
        if not isinstance(window, dict) or set(window) != {"days", "from", "to"}:
            errors.append(FieldError(name, "must be {days, from, to}"))
            continue
        days = window["days"]
        if (
            not isinstance(days, list)
            or not days
            or not all(d in DAYS for d in days)
            or len(set(days)) != len(days)
        ):
            errors.append(FieldError(f"{name}.days", f"must be distinct days of {', '.join(DAYS)}"))
            continue
        start, end = window["from"], window["to"]
        if not all(isinstance(t, str) and TIME_PATTERN.match(t) for t in (start, end)):
            errors.append(FieldError(name, "from and to are times as HH:MM (00:00–23:59)"))
            continue
        if start >= end:
            errors.append(FieldError(f"{name}.to", "must be after from"))
            continue
        windows.append({"days": sorted(days, key=DAYS.index), "from": start, "to": end})
    return windows, errors


class WithPreferences(Customisable):
    """A record (account, contact) that keeps its customer's preferences. A change is an event
    of its own (`PreferencesChanged`, the whole set after the change), so it shows on the
    account's timeline."""

    @property
    def preferences(self) -> dict[str, Any]:
        values: dict[str, Any] = getattr(self, "_preferences", {})
        return values

    class PreferencesChanged(Customisable.Event):
        """The whole set of preferences after the change."""

        preferences: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate._preferences = dict(self.preferences)

    def change_preferences(self, preferences: dict[str, Any]) -> None:
        """`preferences` is the whole set, already checked by `checked_preferences`."""
        if preferences != self.preferences:
            self.trigger_event(type(self).PreferencesChanged, preferences=preferences)
