"""The web side of the bot: a page to try a photo (``app``), the limits that keep it safe to
open to the public (``limits``), and the bot's words for an uploaded photo (``tryout``)."""
