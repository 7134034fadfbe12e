"""The demo: a local fake of X, the bot (webhook + worker processes + SQLite queue), a few
mentions with real photos, and the replies printed with their annotated images saved; then
the same bot on a fake Mastodon and a fake Bluesky (polled; ``demo_networks.py``).

Everything talks real HTTP on loopback: the fake delivers signed webhook events to the bot,
the bot's workers fetch photos from the fake and post replies to it with the real X client.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from aircraftml.config import Settings
from aircraftml.platforms.fake_x import FakeReply, FakeX, FakeXConfig, FakeXServer, LoopbackServer
from aircraftml.serve import WorkerPool, start_pollers
from aircraftml.vision.registry import sample_registry_dir
from aircraftml.webhook import WEBHOOK_PATH, create_app

MONOPLANE = "propeller_monoplane_in_flight_from_above.jpg"
BOATS = "boats-in-river-nagasaki.jpg"


@dataclass(frozen=True, slots=True)
class Mention:
    author: str
    text: str
    photos: tuple[bytes, ...] = ()
    parent_photos: tuple[bytes, ...] = ()  # posted first by someone else; the mention replies


@dataclass(frozen=True, slots=True)
class Exchange:
    mention: Mention
    post_id: str
    reply: FakeReply | None
    seconds: float
    network: str = "x"
    told: str = ""  # the exchange as printed, for the open networks (``demo_networks``)

    @property
    def answered(self) -> bool:
        return self.reply is not None or (bool(self.told) and "(no reply" not in self.told)


def shipped_photo(name: str) -> bytes:
    return resources.files("aircraftml.demo_photos").joinpath(name).read_bytes()


def draw_airliner(width_px: int = 960, height_px: int = 600) -> bytes:
    """A JPEG drawing of an airliner in a blue sky: an aircraft any machine can make, for the
    demo and the tests (the detector finds it; the type is anyone's guess)."""
    image = Image.new("RGB", (width_px, height_px))
    sky = np.linspace(0.85, 1.15, height_px)[:, None, None] * np.array([135, 180, 230])
    image = Image.fromarray(
        np.clip(np.broadcast_to(sky, (height_px, width_px, 3)), 0, 255).astype(np.uint8)
    )
    draw = ImageDraw.Draw(image)
    w, h = width_px, height_px
    cx, cy, length, body = w // 2, h // 2, int(w * 0.7), int(h * 0.09)
    x0, x1 = cx - length // 2, cx + length // 2
    grey, outline = (200, 200, 210), (90, 90, 100)
    draw.rounded_rectangle(
        (x0, cy - body // 2, x1, cy + body // 2),
        radius=body // 2,
        fill=(235, 235, 240),
        outline=outline,
    )
    for x in range(x0 + body, x1 - body, max(6, length // 40)):
        draw.ellipse((x, cy - body // 4, x + 4, cy - body // 4 + 5), fill=(50, 60, 80))
    wing = [
        (cx - length // 10, cy + body // 3),
        (cx + length // 8, cy + body // 3),
        (cx - length // 5, cy + int(h * 0.33)),
        (cx - length // 3, cy + int(h * 0.33)),
    ]
    draw.polygon(wing, fill=grey, outline=outline)
    draw.rounded_rectangle(
        (cx - length // 6, cy + int(h * 0.13), cx - length // 20, cy + int(h * 0.2)),
        radius=8,
        fill=(180, 180, 190),
        outline=outline,
    )
    fin = [
        (x0 + int(length * 0.02), cy - body // 2),
        (x0 + int(length * 0.12), cy - body // 2),
        (x0 + int(length * 0.03), cy - int(h * 0.33)),
        (x0 - int(length * 0.02), cy - int(h * 0.33)),
    ]
    draw.polygon(fin, fill=(30, 60, 150), outline=outline)
    tailplane = [
        (x0 + int(length * 0.02), cy),
        (x0 + int(length * 0.13), cy),
        (x0 + int(length * 0.01), cy + int(h * 0.1)),
        (x0 - int(length * 0.04), cy + int(h * 0.1)),
    ]
    draw.polygon(tailplane, fill=grey, outline=outline)
    out = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(0.8)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def demo_mentions(extra_photos: Sequence[Path]) -> list[Mention]:
    """The story: a drawing and a photo of aircraft, a reply to someone else's photo, a photo
    with no aircraft, no photo, a broken photo; then one mention for each extra photo."""
    plane, boats = shipped_photo(MONOPLANE), shipped_photo(BOATS)
    mentions = [
        Mention("kid_pilot", "I drew this airliner, what type is it?", photos=(draw_airliner(),)),
        Mention("alice", "what plane is this?", photos=(plane,)),
        Mention("carol", "do you know this one?", parent_photos=(plane,)),
        Mention("dave", "any aircraft here?", photos=(boats,)),
        Mention("erin", "hello! what do you do?"),
        Mention("frank", "this one please", photos=(plane[: len(plane) // 3],)),
    ]
    mentions += [
        Mention(f"spotter{n}", f"what is in {path.name}?", photos=(path.read_bytes(),))
        for n, path in enumerate(extra_photos, start=1)
    ]
    return mentions


def run_demo(
    out_dir: Path,
    *,
    extra_photos: Sequence[Path] = (),
    workers: int = 2,
    timeout_s: float = 120.0,
    echo: Callable[[str], object] = print,
) -> list[Exchange]:
    from aircraftml.demo_networks import converse, open_networks

    out_dir.mkdir(parents=True, exist_ok=True)
    # Each run starts clean: the fake X starts its post ids afresh, so a queue and state kept
    # from the last run would take the new mentions for ones already answered.
    var_dir = out_dir / "var"
    shutil.rmtree(var_dir, ignore_errors=True)
    fake = FakeX(FakeXConfig(retry_delays_s=(0.5, 2.0)))
    with (
        FakeXServer(fake) as fake_server,
        open_networks() as others,
        running_bot(fake, fake_server, var_dir, workers, others.bot_environ()) as hook,
    ):
        fake.register_webhook(hook)
        echo(f"fake X on {fake_server.base_url}; the bot's webhook on {hook} (CRC passed)")
        urls = others.mastodon.base_url, others.bluesky.base_url
        echo("fake Mastodon on {}, fake Bluesky on {}".format(*urls))
        exchanges = [_converse(fake, mention, timeout_s) for mention in demo_mentions(extra_photos)]
        for exchange in exchanges:
            echo(_describe(exchange, out_dir))
        for network in ("mastodon", "bluesky"):
            for mention in demo_mentions(())[:3] + demo_mentions(())[4:5]:
                started = time.monotonic()
                told = converse(
                    others,
                    network,
                    mention.author,
                    mention.text,
                    list(mention.photos),
                    list(mention.parent_photos),
                    out_dir,
                    timeout_s,
                )
                echo(told)
                seconds = time.monotonic() - started
                exchanges.append(Exchange(mention, "", None, seconds, network, told))
    return exchanges


@contextmanager
def running_bot(
    fake: FakeX,
    fake_server: FakeXServer,
    var_dir: Path,
    workers: int,
    other_networks: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The bot as `aircraftml serve` runs it (webhook, SQLite queue in ``var_dir``, worker
    processes), talking to ``fake``, and polling the other networks whose settings
    ``other_networks`` holds; yields the webhook URL."""
    networks = {"AIRCRAFTML_NETWORKS": "x,mastodon,bluesky"} if other_networks else {}
    settings = Settings.load(
        {
            **fake.bot_environ(fake_server.base_url),
            **(other_networks or {}),
            **networks,
            "AIRCRAFTML_QUEUE_URL": f"sqlite://{var_dir / 'queue.sqlite3'}",
            "AIRCRAFTML_STATE_URL": f"sqlite://{var_dir / 'state.sqlite3'}",
            "AIRCRAFTML_WORKERS": str(workers),
            "AIRCRAFTML_VISIBILITY_TIMEOUT_S": "60",
            # the shipped sample registry: the shared ERJ-145's F-GUBC gets its exact type
            "AIRCRAFTML_REGISTRY": str(sample_registry_dir() / "sample.csv"),
        }
    )
    from aircraftml.assembly import build_endpoint, build_queue

    queue = build_queue(settings)
    pool = WorkerPool(settings, log_level=logging.WARNING)
    stop_polling = threading.Event()
    start_pollers(settings, stop_polling)
    pool.start()
    try:
        with LoopbackServer(create_app(build_endpoint(settings, queue.send))) as hook:
            yield hook.base_url + WEBHOOK_PATH
    finally:
        stop_polling.set()
        pool.stop()
        queue.close()


def _converse(fake: FakeX, mention: Mention, timeout_s: float) -> Exchange:
    parent = None
    if mention.parent_photos:
        parent = fake.create_post("bob", "Spotted at the airfield today!", mention.parent_photos)
    started = time.monotonic()
    delivery = fake.mention(mention.author, mention.text, photos=mention.photos, in_reply_to=parent)
    post_id = str(delivery.post_id)
    reply = None
    while reply is None and time.monotonic() - started < timeout_s:
        reply = next((r for r in fake.replies if r.in_reply_to_id == post_id), None)
        if reply is None:
            time.sleep(0.02)
    return Exchange(mention, post_id, reply, time.monotonic() - started)


def _describe(exchange: Exchange, out_dir: Path) -> str:
    mention = exchange.mention
    photos = len(mention.photos) or len(mention.parent_photos)
    what = (
        f" [{photos} photo]"
        if mention.photos
        else (" [replying to a post with a photo]" if mention.parent_photos else " [no photo]")
    )
    lines = [f"\n@{mention.author}: @aircraftml {mention.text}{what}"]
    reply = exchange.reply
    if reply is None:
        lines.append(f"  (no reply within the time limit: {exchange.seconds:.0f} s)")
        return "\n".join(lines)
    lines.append(f"  reply after {exchange.seconds * 1000:.0f} ms: {reply.text}")
    for number, media in enumerate(reply.media, start=1):
        path = out_dir / f"reply-to-{mention.author}-{number}.jpg"
        path.write_bytes(media.data)
        lines.append(f"  image: {path}  (alt text: {media.alt_text})")
    return "\n".join(lines)
