"""Build the bot's parts from Settings: the one place where configuration becomes objects.

``aircraftml serve``, ``aircraftml worker`` and the Lambda functions all assemble the same
webhook endpoint and handler here, so the three modes run the same code.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aircraftml.config import Settings, env_name
from aircraftml.errors import AircraftMLError, ConfigError, PermanentError
from aircraftml.handler import Handler
from aircraftml.learning import Learning
from aircraftml.platforms.base import Platform
from aircraftml.platforms.bluesky import text as bluesky_text
from aircraftml.platforms.bluesky.client import BlueskyClient
from aircraftml.platforms.bluesky.mentions import BlueskyMentions
from aircraftml.platforms.mastodon import text as mastodon_text
from aircraftml.platforms.mastodon.client import MastodonClient
from aircraftml.platforms.mastodon.mentions import MastodonMentions
from aircraftml.platforms.x import XClient
from aircraftml.platforms.x_auth import OAuth1
from aircraftml.platforms.x_text import weighted_length
from aircraftml.poller import MentionSource, Poller
from aircraftml.queue import RequestQueue, open_queue
from aircraftml.recent import RecentReplies
from aircraftml.routing import HandlerRouter
from aircraftml.state import StateStore, open_state
from aircraftml.web.limits import UploadLimits
from aircraftml.webhook import WebhookEndpoint

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from aircraftml.web.app import TryPage

# Settings that only the embedded backends take; a server-side queue (SQS) has its own.
_LOCAL_SCHEMES = ("sqlite://", "memory://")


def local_max_receives(settings: Settings) -> int | None:
    """The tries the queue allows, when it is ours to set (SQLite, memory; not SQS)."""
    return settings.max_receives if settings.queue_url.startswith(_LOCAL_SCHEMES) else None


def build_queue(settings: Settings) -> RequestQueue:
    """The queue, opened (ConfigError naming ``AIRCRAFTML_QUEUE_URL`` when it cannot be)."""
    with _opening("queue_url", settings.queue_url):
        if settings.queue_url.startswith(_LOCAL_SCHEMES):
            return open_queue(settings.queue_url, max_receives=settings.max_receives)
        return open_queue(settings.queue_url)


def build_state(settings: Settings) -> StateStore:
    """The state store, opened (ConfigError naming ``AIRCRAFTML_STATE_URL`` when it cannot be)."""
    with _opening("state_url", settings.state_url):
        return open_state(settings.state_url)


@contextmanager
def _opening(setting: str, url: str) -> Iterator[None]:
    """Start-up: a backend that cannot be opened (a read-only path, a file that is not a
    database, a server that refuses) is a one-line ConfigError naming the setting."""
    try:
        yield
    except ConfigError as exc:
        raise ConfigError(f"{env_name(setting)}: {exc}") from None
    except (AircraftMLError, OSError) as exc:
        raise ConfigError(f"{env_name(setting)}={url}: cannot open it: {exc}") from None


def probe_queue(queue: RequestQueue) -> None:
    """Raise unless ``queue`` answers: its counts, and for a file that can be locked (SQLite)
    that a write could start now."""
    check_writable = getattr(queue, "check_writable", None)
    if check_writable is not None:
        check_writable()
    queue.stats()


def probe_state(state: StateStore) -> None:
    """Raise unless ``state`` answers (a claim of this process's probe key, expiring in 1 s)."""
    state.claim(f"aircraftml:probe:{os.getpid()}", ttl_s=1.0)


def build_platform(settings: Settings) -> XClient:
    auth = OAuth1(
        settings.x_consumer_key,
        settings.x_consumer_secret,
        settings.x_access_token,
        settings.x_access_token_secret,
    )
    return XClient(
        auth,
        base_url=settings.x_api_base_url,
        media_hosts=settings.x_media_hosts,
        photo_max_bytes=settings.photo_max_bytes,
        photo_timeout_s=settings.photo_timeout_s,
        allow_insecure_media_for_testing=settings.allow_insecure_media_for_testing,
        bot_user_id=settings.bot_user_id,
    )


def build_mastodon(settings: Settings) -> MastodonClient:
    return MastodonClient(
        settings.mastodon_base_url,
        settings.mastodon_access_token,
        media_hosts=settings.mastodon_media_hosts,
        photo_max_bytes=settings.photo_max_bytes,
        photo_timeout_s=settings.photo_timeout_s,
        allow_insecure_media_for_testing=settings.allow_insecure_media_for_testing,
    )


def build_bluesky(settings: Settings) -> BlueskyClient:
    return BlueskyClient(
        settings.bluesky_handle,
        settings.bluesky_app_password,
        service_url=settings.bluesky_service_url,
        media_hosts=settings.bluesky_media_hosts,
        photo_max_bytes=settings.photo_max_bytes,
        photo_timeout_s=settings.photo_timeout_s,
        allow_insecure_media_for_testing=settings.allow_insecure_media_for_testing,
    )


# Each network: its adapter and how it counts a reply's length.
_NETWORKS: dict[str, tuple[Callable[[Settings], Platform], Callable[[str], int]]] = {
    "x": (build_platform, weighted_length),
    "mastodon": (build_mastodon, mastodon_text.length),
    "bluesky": (build_bluesky, bluesky_text.graphemes),
}


def check_x_credentials(settings: Settings) -> None:
    """Ask X who the credentials belong to (``GET /2/users/me``), once, at start: ConfigError
    when X refuses them or they are another account's; a warning when X cannot be reached."""
    with build_platform(settings) as x:
        try:
            user_id, handle = x.me()
        except PermanentError as exc:
            raise ConfigError(
                f"the X credentials ({env_name('x_consumer_key')}, {env_name('x_access_token')}"
                f" and their secrets) were refused: {exc}"
            ) from None
        except AircraftMLError as exc:
            logger.warning("could not check the X credentials now: %s", exc)
            return
    if user_id != settings.bot_user_id:
        raise ConfigError(
            f"{env_name('x_access_token')} is the token of @{handle} (user id {user_id}), "
            f"not of {env_name('bot_user_id')}={settings.bot_user_id}"
        )
    logger.info("X credentials checked: @%s (user id %s)", handle, user_id)


def build_handler(settings: Settings, state: StateStore) -> HandlerRouter:
    """One handler per network in ``settings.networks``, sharing one recognizer."""
    from aircraftml.vision.recognizer import Recognizer

    recognizer = Recognizer.load(
        detector_path=settings.detector_path,
        classifier_dir=settings.classifier_dir,
        threads=settings.threads_per_worker,
        read_registrations=settings.read_registrations,
        registry_path=settings.registry,
    )
    # the dashboard's last replies: on DynamoDB, listing records is a scan of the table, too
    # dear for every reply, so only the embedded backends keep them
    recent = RecentReplies(state) if settings.state_url.startswith(_LOCAL_SCHEMES) else None
    handlers = {}
    for network in settings.networks:
        make_platform, length = _NETWORKS[network]
        platform = make_platform(settings)
        handlers[network] = Handler(
            platform,
            state,
            recognizer,
            weighted_length=length,
            claim_ttl_s=settings.visibility_timeout_s,
            learning=Learning(state, recognizer.taxonomy.labels, platform.download_photo),
            recent=recent,
        )
    return HandlerRouter(handlers)


def build_pollers(
    settings: Settings, state: StateStore, enqueue: Callable[[Sequence[str]], object]
) -> list[Poller]:
    """A poller for each network without webhooks, its credentials checked first (the bot
    account is marked as a bot where it is not): a bad token stops the start with a
    ConfigError that names the setting."""
    sources: list[MentionSource] = []
    if "mastodon" in settings.networks:
        mastodon = build_mastodon(settings)
        _checked(mastodon.mark_as_bot, "MASTODON_ACCESS_TOKEN", settings.mastodon_base_url)
        sources.append(MastodonMentions(mastodon))
    if "bluesky" in settings.networks:
        bluesky = build_bluesky(settings)
        _checked(bluesky.mark_as_bot, "BLUESKY_APP_PASSWORD", settings.bluesky_service_url)
        sources.append(BlueskyMentions(bluesky))
    return [Poller(s, state, enqueue, interval_s=settings.poll_interval_s) for s in sources]


def _checked(start: Callable[[], object], credential: str, url: str) -> None:
    """Start-up, as ``check_x_credentials``: ConfigError naming the credential when the
    network refuses it; a warning when the network cannot be reached now."""
    try:
        start()
    except PermanentError as exc:
        raise ConfigError(f"AIRCRAFTML_{credential} is not accepted by {url}: {exc}") from None
    except AircraftMLError as exc:
        logger.warning("could not check AIRCRAFTML_%s at %s now: %s", credential, url, exc)
        return
    logger.info("AIRCRAFTML_%s checked at %s", credential, url)


def build_endpoint(
    settings: Settings, enqueue: Callable[[Sequence[str]], object]
) -> WebhookEndpoint:
    return WebhookEndpoint(
        consumer_secret=settings.x_consumer_secret,
        bot_user_id=settings.bot_user_id,
        bot_handle=settings.bot_handle,
        enqueue=enqueue,
        max_body_bytes=settings.max_body_bytes,
    )


def build_try_page(settings: Settings) -> TryPage:
    """The try-a-photo page with its own recognizer (in the webhook's process)."""
    from aircraftml.vision.recognizer import Recognizer
    from aircraftml.web.app import TryPage

    recognizer = Recognizer.load(
        detector_path=settings.detector_path,
        classifier_dir=settings.classifier_dir,
        threads=settings.threads_per_worker,
        read_registrations=settings.read_registrations,
        registry_path=settings.registry,
    )
    limits = UploadLimits(
        max_bytes=settings.web_max_upload_bytes,
        max_pixels=settings.web_max_pixels,
        max_concurrent=settings.web_max_concurrent,
        per_client_per_minute=settings.web_rate_per_minute,
    )
    return TryPage(recognizer, limits)
