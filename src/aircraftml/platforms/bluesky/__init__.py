"""The Bluesky adapter: a narrow httpx XRPC client (``client``), its texts (``text``: facets,
graphemes, record keys) and the mentions it turns into requests (``mentions``)."""
