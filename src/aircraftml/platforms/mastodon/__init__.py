"""The Mastodon adapter: a narrow httpx client (``client``), its texts (``text``) and the
mentions it turns into requests (``mentions``)."""

from aircraftml.platforms.mastodon.client import MastodonClient, map_error

__all__ = ["MastodonClient", "map_error"]
