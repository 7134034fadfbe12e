"""Build the bot's parts from Settings: the one place where configuration becomes objects.

``aircraftml serve``, ``aircraftml worker`` and the Lambda functions all assemble the same
webhook endpoint and handler here, so the three modes run the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aircraftml.config import Settings
from aircraftml.handler import Handler
from aircraftml.learning import Learning
from aircraftml.platforms.x import XClient
from aircraftml.platforms.x_auth import OAuth1
from aircraftml.platforms.x_text import weighted_length
from aircraftml.queue import RequestQueue, open_queue
from aircraftml.recent import RecentReplies
from aircraftml.state import StateStore, open_state
from aircraftml.web.limits import UploadLimits
from aircraftml.webhook import WebhookEndpoint

if TYPE_CHECKING:
    from aircraftml.web.app import TryPage

# Settings that only the embedded backends take; a server-side queue (SQS) has its own.
_LOCAL_SCHEMES = ("sqlite://", "memory://")


def build_queue(settings: Settings) -> RequestQueue:
    if settings.queue_url.startswith(_LOCAL_SCHEMES):
        return open_queue(settings.queue_url, max_receives=settings.max_receives)
    return open_queue(settings.queue_url)


def build_state(settings: Settings) -> StateStore:
    return open_state(settings.state_url)


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


def build_handler(settings: Settings, state: StateStore) -> Handler:
    from aircraftml.vision.recognizer import Recognizer

    recognizer = Recognizer.load(
        detector_path=settings.detector_path,
        classifier_dir=settings.classifier_dir,
        threads=settings.threads_per_worker,
    )
    platform = build_platform(settings)
    learning = Learning(state, recognizer.taxonomy.labels, platform.download_photo)
    return Handler(
        platform,
        state,
        recognizer,
        weighted_length=weighted_length,
        claim_ttl_s=settings.visibility_timeout_s,
        learning=learning,
        # the dashboard's last replies: on DynamoDB, listing records is a scan of the table,
        # too dear for every reply, so only the embedded backends keep them
        recent=RecentReplies(state) if settings.state_url.startswith(_LOCAL_SCHEMES) else None,
    )


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
    )
    limits = UploadLimits(
        max_bytes=settings.web_max_upload_bytes,
        max_pixels=settings.web_max_pixels,
        max_concurrent=settings.web_max_concurrent,
        per_client_per_minute=settings.web_rate_per_minute,
    )
    return TryPage(recognizer, limits)
