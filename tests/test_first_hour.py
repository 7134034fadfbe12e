"""The first hour of a new user: ``aircraftml fake-x`` prints the settings the bot needs, and
``aircraftml serve`` started with exactly those (plus where to keep its files) answers a
mention. Real commands, talking over loopback as the README tells."""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx

from e2e_support import free_port, jpeg, wait_for


def printed_settings(fake_x: subprocess.Popen[str]) -> dict[str, str]:
    """The ``export NAME=value`` lines fake-x prints, read until its instructions end."""
    assert fake_x.stdout is not None
    settings: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = fake_x.stdout.readline()
        if match := re.match(r"\s*export (AIRCRAFTML_\w+)=(.*)", line):
            settings[match[1]] = shlex.split(match[2])[0] if match[2] else ""
        if line.startswith("then register its webhook"):
            return settings
    raise AssertionError(f"fake-x printed no settings, only {settings}")


def test_serve_with_the_settings_fake_x_prints_answers_a_mention(tmp_path: Path) -> None:
    fake_port, bot_port = free_port(), free_port()
    fake_x = subprocess.Popen(
        [sys.executable, "-m", "aircraftml", "fake-x", "--port", str(fake_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    serve = None
    try:
        # Given the settings fake-x prints
        settings = printed_settings(fake_x)
        assert settings["AIRCRAFTML_ALLOW_INSECURE_MEDIA_FOR_TESTING"] == "true"
        assert settings["AIRCRAFTML_X_MEDIA_HOSTS"] == "127.0.0.1"
        # When serve starts with those and nothing else of the bot's
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AIRCRAFTML_")}
        serve = subprocess.Popen(
            [sys.executable, "-m", "aircraftml", "serve"],
            env={
                **environ,
                **settings,
                "AIRCRAFTML_PORT": str(bot_port),
                "AIRCRAFTML_WORKERS": "1",
            },
            cwd=tmp_path,
            stderr=subprocess.DEVNULL,
        )
        bot = f"http://127.0.0.1:{bot_port}"
        wait_for(lambda: _answers(f"{bot}/readyz"), 60, "serve to be ready")
        fake = f"http://127.0.0.1:{fake_port}"
        httpx.post(f"{fake}/_fake/webhook", json={"url": f"{bot}/webhook"}).raise_for_status()
        # Then a mention with a photo gets its reply
        photo = base64.b64encode(jpeg()).decode()
        mention = httpx.post(
            f"{fake}/_fake/mention",
            json={"author_handle": "newcomer", "text": "what is this?", "photos_base64": [photo]},
        ).json()
        assert mention["delivered"]

        def replied() -> bool:
            replies = httpx.get(f"{fake}/_fake/replies").json()["replies"]
            return any(r["in_reply_to_id"] == mention["post_id"] for r in replies)

        wait_for(replied, 60, "the reply")
    finally:
        for process in (serve, fake_x):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False
