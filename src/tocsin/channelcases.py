"""The use cases of reaching a user beyond the open tab (DESIGN §8): Web Push subscriptions,
user profiles (where to e-mail them), and the delivery log. Mixed into
:class:`tocsin.service.NotificationService`."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tocsin.auth.apikeys import Publisher
from tocsin.config import Settings
from tocsin.errors import NotFound, ValidationFailed
from tocsin.models import Identity
from tocsin.preferencecases import may_manage
from tocsin.push.allowlist import MAX_ENDPOINT, endpoint_allowed, parse_pattern
from tocsin.push.sender import Subscription, parse_subscription
from tocsin.store.base import Delivery, PushSubscription, Store, UserProfile

# Browsers keep one subscription per profile and origin: a user with more is an attack.
MAX_SUBSCRIPTIONS_PER_USER = 10
MAX_DELIVERIES = 1000
# E-mail addresses remembered from session claims, so a reconnect does not write again.
REMEMBERED_EMAILS = 10_000
LOCALES = ("fr", "en")
# Deliberately loose (RFC 5322 allows far more than apps ever send): one @, no spaces.
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]{1,255}$")


def _checked_keys(endpoint: str, keys: dict[str, Any]) -> Subscription:
    """The subscription's keys, checked as the sender will use them (a P-256 point and a
    16-byte secret), each error naming its field."""
    for name, longest in (("p256dh", 200), ("auth", 100)):
        value = keys.get(name)
        if not isinstance(value, str) or not value or len(value) > longest:
            raise ValidationFailed(f"keys.{name}: must be a base64url string", field=f"keys.{name}")
    try:
        return parse_subscription({"endpoint": endpoint, "keys": keys})
    except ValueError as exc:
        field = "keys.p256dh" if "p256dh" in str(exc) else "keys.auth"
        raise ValidationFailed(f"{field}: {exc}", field=field) from None


def valid_email(value: Any) -> str | None:
    """``value`` as an e-mail address, or None when it does not look like one."""
    if isinstance(value, str) and len(value) <= 320 and _EMAIL.match(value):
        return value
    return None


class ChannelCases:
    """Subscriptions, profiles and deliveries; the host provides ``settings`` and ``store``."""

    settings: Settings
    store: Store
    _emails_seen: OrderedDict[tuple[str, str], str]
    _recipient_changed: Callable[[Identity | None, str], Awaitable[None]]

    # -- Web Push subscriptions ---------------------------------------------------------

    async def subscribe_push(self, identity: Identity, raw: Any) -> None:
        """Keep a browser's ``PushSubscription`` JSON for ``identity``.

        Raises:
            ValidationFailed: not a subscription, an endpoint outside the allowed push
                services (``TOCSIN_PUSH_SERVICES``), or too many for this user.
        """
        if not isinstance(raw, dict):
            raise ValidationFailed("a subscription must be a JSON object", field="body")
        endpoint = raw.get("endpoint")
        if not isinstance(endpoint, str) or len(endpoint) > MAX_ENDPOINT:
            raise ValidationFailed("endpoint: must be the subscription's URL", field="endpoint")
        patterns = [parse_pattern(p) for p in self.settings.push_services]
        if not endpoint_allowed(endpoint, patterns):
            raise ValidationFailed(
                "endpoint: not a push service this server sends to (TOCSIN_PUSH_SERVICES)",
                field="endpoint",
            )
        keys = raw.get("keys")
        if not isinstance(keys, dict):
            raise ValidationFailed("keys: must hold p256dh and auth", field="keys")
        checked = _checked_keys(endpoint, keys)
        subscription = PushSubscription(
            tenant_id=identity.tenant_id,
            user_id=identity.user_id,
            endpoint=endpoint,
            p256dh=checked.p256dh,
            auth=checked.auth,
            created_at=datetime.now(UTC),
        )
        if not await self.store.put_push_subscription(subscription, MAX_SUBSCRIPTIONS_PER_USER):
            raise ValidationFailed(
                f"endpoint: at most {MAX_SUBSCRIPTIONS_PER_USER} push subscriptions per user",
                field="endpoint",
            )

    async def unsubscribe_push(self, identity: Identity, raw: Any) -> bool:
        """Forget one of the user's subscriptions by endpoint; false if there was none."""
        endpoint = raw.get("endpoint") if isinstance(raw, dict) else None
        if not isinstance(endpoint, str) or len(endpoint) > MAX_ENDPOINT:
            raise ValidationFailed("endpoint: must be the subscription's URL", field="endpoint")
        return await self.store.delete_push_subscription(endpoint, identity)

    # -- profiles ------------------------------------------------------------------------

    async def put_profile(
        self, publisher: Publisher, tenant_id: str, user_id: str, raw: Any
    ) -> dict[str, Any]:
        """Set a user's ``{email, locale, timezone}`` (each may be null).

        Raises:
            Forbidden: another tenant's key.
            ValidationFailed: naming the field.
        """
        may_manage(publisher, tenant_id)
        if not isinstance(raw, dict):
            raise ValidationFailed("a profile must be a JSON object", field="body")
        unknown = set(raw) - {"email", "locale", "timezone"}
        if unknown:
            name = sorted(unknown)[0][:64]
            raise ValidationFailed(f"{name}: unknown field", field=name)
        email, locale, zone = raw.get("email"), raw.get("locale"), raw.get("timezone")
        if email is not None and valid_email(email) is None:
            raise ValidationFailed("email: not an e-mail address", field="email")
        if locale is not None and locale not in LOCALES:
            raise ValidationFailed("locale: must be fr or en", field="locale")
        if zone is not None:
            _zone(zone)
        if not user_id or len(user_id) > 200 or "\x00" in user_id:
            raise ValidationFailed("userId: must be a user id", field="userId")
        profile = UserProfile(tenant_id, user_id, email, locale, zone)
        await self.store.put_profile(profile)
        await self._recipient_changed(Identity(tenant_id, user_id), tenant_id)
        return profile_json(profile)

    async def get_profile(
        self, publisher: Publisher, tenant_id: str, user_id: str
    ) -> dict[str, Any]:
        """A user's profile (tenant key or admin key).

        Raises:
            NotFound: none stored.
        """
        may_manage(publisher, tenant_id)
        profile = await self.store.get_profile(tenant_id, user_id)
        if profile is None:
            raise NotFound(f"no profile for user {user_id[:200]!r}", field="userId")
        return profile_json(profile)

    async def remember_email(self, identity: Identity, claims: dict[str, Any]) -> None:
        """Keep the session's ``email`` claim as the user's address (DESIGN §8), writing
        only when it changed since this process last saw it."""
        email = valid_email(claims.get("email"))
        key = (identity.tenant_id, identity.user_id)
        if email is None or self._emails_seen.get(key) == email:
            return
        await self.store.put_profile(
            UserProfile(identity.tenant_id, identity.user_id, email, None, None), only_email=True
        )
        await self._recipient_changed(identity, identity.tenant_id)
        self._emails_seen[key] = email
        self._emails_seen.move_to_end(key)
        while len(self._emails_seen) > REMEMBERED_EMAILS:
            self._emails_seen.popitem(last=False)

    # -- the delivery log ----------------------------------------------------------------

    async def deliveries_of(self, publisher: Publisher, notification_id: str) -> list[Delivery]:
        """What became of a notification's pushes and e-mails, per recipient.

        Raises:
            NotFound: no such notification the key may read.
        """
        note = await self.store.notification_by_id(notification_id[:200], publisher.tenant_id)
        if note is None:
            raise NotFound(f"no notification {notification_id[:200]!r}", field="id")
        return await self.store.deliveries(note.cursor, MAX_DELIVERIES)


def profile_json(profile: UserProfile) -> dict[str, Any]:
    """A profile as the HTTP API answers it."""
    return {
        "tenantId": profile.tenant_id,
        "userId": profile.user_id,
        "email": profile.email,
        "locale": profile.locale,
        "timezone": profile.timezone,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A delivery log line as the HTTP API answers it."""
    return {
        "tenantId": delivery.tenant_id,
        "userId": delivery.user_id,
        "channel": delivery.channel,
        "status": delivery.status,
        "detail": delivery.detail,
        "at": delivery.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _zone(value: Any) -> str:
    if (
        not isinstance(value, str)
        or len(value) > 64
        or not re.fullmatch(r"[A-Za-z0-9_+/-]+", value)
    ):
        raise ValidationFailed("timezone: must be an IANA time zone", field="timezone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"timezone: unknown time zone {value!r}", field="timezone") from None
    return value
