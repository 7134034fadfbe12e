"""Mastodon's texts: a status's HTML as plain text, and its length as Mastodon counts it
(every URL counts 23 characters, a mention ``@user@domain`` counts as ``@user``)."""

from __future__ import annotations

import html.parser
import re

URL_LENGTH = 23
_URL = re.compile(r"https?://\S+")
_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w+)@[\w.-]+\w")
NOBOT_TAG = "#nobot"


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p") and self.parts:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(content_html: str) -> str:
    """A status's ``content`` (HTML) as the text its author typed."""
    parser = _Text()
    parser.feed(content_html)
    parser.close()
    return "".join(parser.parts).strip()


def length(text: str) -> int:
    """The length Mastodon checks against the instance's ``max_characters``."""
    text = _URL.sub("x" * URL_LENGTH, text)
    text = _REMOTE_MENTION.sub(lambda m: "@" + m.group(1), text)
    return len(text)


def says_nobot(profile_note_html: str) -> bool:
    """The author's profile asks bots to leave them alone (``#nobot``)."""
    return NOBOT_TAG in plain_text(profile_note_html).lower()
