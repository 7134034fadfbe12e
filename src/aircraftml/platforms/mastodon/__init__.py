"""The Mastodon adapter: a narrow httpx client (``client``), its texts (``text``) and the
mentions it turns into requests (``mentions``)."""
