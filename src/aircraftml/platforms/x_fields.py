"""The query the bot sends to look a post up (``GET /2/tweets/:id``): the one place its names live.

X's documents disagree on the names. The guides ("Fields", the data dictionary), the SDK
generated from the specification (xdevplatform/xdk, ``posts.get_by_id`` sends
``tweet.fields``) and every post X delivers in 2026 (``referenced_tweets``,
``edit_history_tweet_ids`` in the Activity API's samples) use the Tweet names. The OpenAPI
specification from v2.167 renames them (``post.fields``, the expansion
``referenced_posts``, the field ``note_post``) and, in v2.168, lists no ``author_id``,
``referenced_*`` or ``edit_history_*`` field at all, which no server that still delivers
those fields can mean. X answers a query parameter or value it does not know with 400.

So the client speaks :data:`SERVED` (the Tweet names) and, should X answer 400 naming one of
them, switches to :data:`SPEC` once (:func:`fallback`); responses are read in both dialects.
The allowed values below are what the fake of X accepts, so a typo fails there as on X.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DIALECTS", "MEDIA_FIELDS", "SERVED", "SPEC", "USER_FIELDS", "LookupDialect", "fallback"]

MEDIA_FIELDS = frozenset({
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
    "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
})  # fmt: skip
USER_FIELDS = frozenset({
    "affiliation", "confirmed_email", "connection_status", "created_at", "description",
    "entities", "id", "is_identity_verified", "location", "most_recent_tweet_id", "name",
    "parody", "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected",
    "public_metrics", "receives_your_dm", "subscription", "subscription_type", "url",
    "username", "verified", "verified_followers_count", "verified_type", "withheld",
})  # fmt: skip
_COMMON_POST_FIELDS = frozenset({
    "article", "attachments", "card_uri", "community_id", "context_annotations",
    "conversation_id", "created_at", "display_text_range", "edit_controls", "entities", "geo",
    "id", "lang", "media_metadata", "non_public_metrics", "organic_metrics", "possibly_sensitive",
    "promoted_metrics", "public_metrics", "reply_settings", "scopes", "source", "text",
    "withheld",
})  # fmt: skip
_COMMON_EXPANSIONS = frozenset({
    "article.cover_media", "article.media_entities", "attachments.media_keys",
    "attachments.media_source_tweet", "attachments.poll_ids", "author_id",
    "entities.mentions.username", "geo.place_id", "in_reply_to_user_id",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class LookupDialect:
    """One naming of the post lookup's query: parameter, expansion and field names."""

    name: str
    post_fields: str  # the parameter naming the post's fields
    referenced_expansion: str  # the expansion that adds the referenced posts
    referenced_key: str  # where a post lists the posts it replies to, quotes, reposts
    note_field: str  # the field holding a long post's full text
    allowed_post_fields: frozenset[str]
    allowed_expansions: frozenset[str]

    def params(self) -> dict[str, str]:
        """The query the bot sends: photos, author, parent post and long text."""
        return {
            "expansions": f"attachments.media_keys,author_id,{self.referenced_expansion}",
            "media.fields": "url,type,alt_text",
            self.post_fields: f"conversation_id,{self.note_field}",
            "user.fields": "username",
        }

    def references_params(self) -> dict[str, str]:
        """What makes a timeline's posts list the posts they reply to: the expansion, which
        both namings have (the specification has no ``referenced_*`` field to ask for)."""
        return {"expansions": self.referenced_expansion}

    @property
    def parameters(self) -> frozenset[str]:
        """Every query parameter X takes on this lookup, in this dialect."""
        return frozenset({"expansions", "media.fields", "user.fields", "poll.fields",
                          "place.fields", self.post_fields})  # fmt: skip

    def renamed_to(self, other: LookupDialect) -> dict[str, str]:
        """This dialect's names that ``other`` spells differently, mapped to ``other``'s."""
        pairs = (
            (self.post_fields, other.post_fields),
            (self.referenced_expansion, other.referenced_expansion),
            (self.referenced_key, other.referenced_key),
            (self.note_field, other.note_field),
        )
        return {mine: theirs for mine, theirs in pairs if mine != theirs}


_SERVED_POST_FIELDS = frozenset({"author_id", "edit_history_tweet_ids", "in_reply_to_user_id",
                                 "note_tweet", "referenced_tweets"})  # fmt: skip
_SERVED_EXPANSIONS = frozenset({"edit_history_tweet_ids", "referenced_tweets.id",
                                "referenced_tweets.id.author_id",
                                "referenced_tweets.id.attachments.media_keys"})  # fmt: skip

SERVED = LookupDialect(
    name="tweet names (guides, SDK, delivered posts)",
    post_fields="tweet.fields",
    referenced_expansion="referenced_tweets.id",
    referenced_key="referenced_tweets",
    note_field="note_tweet",
    allowed_post_fields=_COMMON_POST_FIELDS | _SERVED_POST_FIELDS,
    allowed_expansions=_COMMON_EXPANSIONS | _SERVED_EXPANSIONS,
)
SPEC = LookupDialect(
    name="post names (OpenAPI v2.167+)",
    post_fields="post.fields",
    referenced_expansion="referenced_posts",
    referenced_key="referenced_posts",
    note_field="note_post",
    allowed_post_fields=_COMMON_POST_FIELDS | {"note_post"},
    allowed_expansions=_COMMON_EXPANSIONS | {"edit_history_post_ids", "referenced_posts"},
)
DIALECTS = (SERVED, SPEC)


def fallback(current: LookupDialect, status: int, x_message: str) -> LookupDialect | None:
    """The other dialect when X refused ``current``'s names (a 400 naming one); else None."""
    if status != 400:
        return None
    names = (current.post_fields, current.referenced_expansion, current.note_field)
    if not any(name in x_message for name in names):
        return None
    return next(d for d in DIALECTS if d is not current)
