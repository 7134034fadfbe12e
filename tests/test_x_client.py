"""The X client against httpx.MockTransport: signing, error mapping, photo limits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from aircraftml.errors import (
    AircraftMLError,
    DuplicateContent,
    PermanentError,
    PhotoError,
    PhotoTimedOut,
    RateLimited,
    TransientError,
)
from aircraftml.platforms.base import ReplyImage
from aircraftml.platforms.x import XClient, map_error, weighted_length
from aircraftml.platforms.x_auth import BearerToken, OAuth1, oauth1_signature, parse_oauth_header

# The example of X's "Creating a signature" page.
DOCS = {
    "consumer_key": "xvz1evFS4wEEPTGEFPHBog",
    "consumer_secret": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    "access_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    "access_token_secret": "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
}
DOCS_NONCE = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"
DOCS_TIMESTAMP = 1318622958
DOCS_STATUS = "Hello Ladies + Gentlemen, a signed OAuth request!"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
PHOTO = "https://pbs.twimg.com/media/A1.jpg?format=jpg&name=large"

Handler = Callable[[httpx.Request], httpx.Response]


def docs_auth() -> OAuth1:
    return OAuth1(**DOCS, clock=lambda: DOCS_TIMESTAMP, nonce=lambda: DOCS_NONCE)


def client(handler: Handler, **options: Any) -> XClient:
    return XClient(BearerToken("t"), transport=httpx.MockTransport(handler), **options)


def x_json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


# --- OAuth 1.0a ---------------------------------------------------------------------


def test_oauth1_signs_the_docs_example_to_the_documented_signature() -> None:
    # Given X's documented request (query include_entities, form body status)
    request = httpx.Request(
        "POST",
        "https://api.x.com/1.1/statuses/update.json?include_entities=true",
        data={"status": DOCS_STATUS},
    )
    # When signed
    signed = next(docs_auth().auth_flow(request))
    # Then the signature is the documented one, and the body is untouched
    oauth = parse_oauth_header(signed.headers["authorization"])
    assert oauth["oauth_signature"] == "Ls93hJiZbQ3akF3HF3x1Bz8/zU4="
    assert oauth["oauth_nonce"] == DOCS_NONCE and oauth["oauth_timestamp"] == str(DOCS_TIMESTAMP)
    assert signed.content == request.content


def signature_of(request: httpx.Request) -> str:
    return parse_oauth_header(next(docs_auth().auth_flow(request)).headers["authorization"])[
        "oauth_signature"
    ]


def test_a_json_body_is_sent_but_not_signed() -> None:
    # Given two JSON requests that differ only in their body
    url = "https://api.x.com/2/tweets"
    first = httpx.Request("POST", url, json={"text": "one"})
    second = httpx.Request("POST", url, json={"text": "two"})
    # When signed / Then the signature covers no body and carries no body hash
    assert signature_of(first) == signature_of(second)
    expected = oauth1_signature(
        "POST",
        url,
        [
            (k, v)
            for k, v in parse_oauth_header(
                next(docs_auth().auth_flow(first)).headers["authorization"]
            ).items()
            if k != "oauth_signature"
        ],
        DOCS["consumer_secret"],
        DOCS["access_token_secret"],
    )
    assert signature_of(first) == expected
    signed = next(docs_auth().auth_flow(first))
    assert "oauth_body_hash" not in signed.headers["authorization"]
    assert json.loads(signed.content) == {"text": "one"}


def test_a_multipart_body_is_sent_but_not_signed() -> None:
    url = "https://api.x.com/2/media/upload"
    first = httpx.Request(
        "POST", url, data={"media_category": "tweet_image"}, files={"media": b"1"}
    )
    second = httpx.Request("POST", url, data={"media_category": "dm_image"}, files={"media": b"2"})
    assert signature_of(first) == signature_of(second)
    assert b"tweet_image" in next(docs_auth().auth_flow(first)).read()


def test_form_fields_and_query_parameters_are_signed() -> None:
    url = "https://api.x.com/1.1/statuses/update.json"
    base = signature_of(httpx.Request("POST", url, data={"status": "a"}))
    assert signature_of(httpx.Request("POST", url, data={"status": "b"})) != base
    assert signature_of(httpx.Request("POST", url + "?x=1", data={"status": "a"})) != base


def test_secrets_do_not_show_in_reprs() -> None:
    assert DOCS["consumer_secret"] not in repr(docs_auth())
    assert "t0ken" not in repr(BearerToken("t0ken"))


# --- error mapping ------------------------------------------------------------------


def test_429_waits_until_the_rate_limit_reset() -> None:
    response = x_json(
        429,
        {"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
        {"x-rate-limit-reset": "1775000900", "x-rate-limit-remaining": "0"},
    )
    error = map_error(response, "post", now_epoch_s=1_775_000_000)
    assert isinstance(error, RateLimited)
    assert error.until_epoch_s == 1_775_000_901  # the reset is whole seconds, rounded down
    assert "Rate limit exceeded" in str(error)


def test_429_with_a_reset_already_passed_waits_a_second() -> None:
    response = x_json(429, {}, {"x-rate-limit-reset": "999", "x-rate-limit-remaining": "0"})
    error = map_error(response, "post", now_epoch_s=1000.5)
    assert isinstance(error, RateLimited) and error.until_epoch_s == 1001.5


def test_429_without_a_reset_header_waits_a_minute() -> None:
    error = map_error(x_json(429, {}), "post", now_epoch_s=1000.0)
    assert isinstance(error, RateLimited) and error.until_epoch_s == 1060.0


def test_429_on_an_exhausted_24_hour_window_waits_for_that_window() -> None:
    headers = {
        "x-rate-limit-reset": "2000",
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": "80000",
        "x-app-limit-24hour-remaining": "5",
        "x-app-limit-24hour-reset": "90000",
    }
    error = map_error(x_json(429, {}, headers), "post", now_epoch_s=1000.0)
    assert isinstance(error, RateLimited) and error.until_epoch_s == 80001


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, {"title": "Internal Server Error"}, TransientError),
        (502, {}, TransientError),
        (503, {"title": "Service Unavailable"}, TransientError),
        (504, {}, TransientError),
        (408, {}, TransientError),
        (
            403,
            {"detail": "You are not allowed to create a Tweet with duplicate content."},
            DuplicateContent,
        ),
        (403, {"detail": "You are not permitted to perform this action."}, PermanentError),
        (401, {"title": "Unauthorized", "detail": "Unauthorized"}, PermanentError),
        (400, {"errors": [{"message": "$.foo is not a valid property"}]}, PermanentError),
        (404, {}, PermanentError),
    ],
)
def test_statuses_map_onto_the_error_tree(status: int, body: dict[str, Any], kind: type) -> None:
    error = map_error(x_json(status, body), "post")
    assert type(error) is kind


def test_the_permanent_error_carries_xs_message() -> None:
    error = map_error(
        x_json(400, {"errors": [{"message": "$.foo is not a valid property"}]}), "post"
    )
    assert "$.foo is not a valid property" in str(error) and "HTTP 400" in str(error)


HTTPX_FAILURES: list[Exception] = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("slow connect"),
    httpx.ReadTimeout("slow read"),
    httpx.WriteTimeout("slow write"),
    httpx.PoolTimeout("pool"),
    httpx.ReadError("reset by peer"),
    httpx.WriteError("broken pipe"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.LocalProtocolError("bad"),
    httpx.ProxyError("proxy"),
    httpx.UnsupportedProtocol("gopher"),
    httpx.DecodingError("bad gzip"),
    httpx.TooManyRedirects("loop"),
]


@pytest.mark.parametrize("failure", HTTPX_FAILURES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("call", ["fetch_post", "download_photo", "post_reply", "upload_image"])
def test_no_httpx_exception_leaks_out_of_the_client(failure: Exception, call: str) -> None:
    # Given a transport that fails in this way
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    x = client(handler)
    calls: dict[str, Callable[[], object]] = {
        "fetch_post": lambda: x.fetch_post("1"),
        "download_photo": lambda: x.download_photo(PHOTO),
        "post_reply": lambda: x.post_reply("1", "hi", []),
        "upload_image": lambda: x.upload_image(JPEG, "image/jpeg"),
    }
    # When called / Then only our errors come out, with the httpx one as the cause
    with pytest.raises(AircraftMLError) as caught:
        calls[call]()
    assert not isinstance(caught.value, httpx.HTTPError)
    assert caught.value.__cause__ is failure
    if call == "download_photo" and isinstance(failure, httpx.TimeoutException):
        # a photo that did not arrive in time is answered as such, not retried
        assert isinstance(caught.value, PhotoTimedOut)
        return
    transient = not isinstance(failure, httpx.UnsupportedProtocol | httpx.TooManyRedirects)
    assert isinstance(caught.value, TransientError) == transient


def test_a_success_answer_that_is_not_json_is_transient() -> None:
    x = client(lambda r: httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(TransientError):
        x.post_reply("1", "hi", [])


# --- requests the client makes ------------------------------------------------------


class Recorder:
    """A MockTransport handler that answers like X and keeps what it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.next_id = 500

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        self.next_id += 1
        if request.url.path == "/2/tweets":
            return x_json(201, {"data": {"id": "900", "text": "x"}})
        return x_json(200, {"data": {"id": str(self.next_id), "media_key": f"3_{self.next_id}"}})

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def test_post_reply_uploads_sets_alt_texts_and_posts_the_exact_schema() -> None:
    # Given two images with alt text
    recorder = Recorder()
    images = [ReplyImage(JPEG, "image/jpeg", "A Boeing 737"), ReplyImage(JPEG, "image/png", "")]
    # When replying
    reply_id = client(recorder).post_reply("1850", "Boeing 737-800 (91%)", images)
    # Then: upload, alt text, upload (no alt text), post
    assert reply_id == "900"
    assert recorder.paths() == [
        "/2/media/upload",
        "/2/media/metadata",
        "/2/media/upload",
        "/2/tweets",
    ]
    assert b'name="media_category"\r\n\r\ntweet_image' in recorder.requests[0].content
    assert json.loads(recorder.requests[1].content) == {
        "id": "501",
        "metadata": {"alt_text": {"text": "A Boeing 737"}},
    }
    assert json.loads(recorder.requests[3].content) == {
        "text": "Boeing 737-800 (91%)",
        "reply": {"in_reply_to_tweet_id": "1850"},
        "media": {"media_ids": ["501", "503"]},
    }


def test_a_reply_without_images_has_no_media_property() -> None:
    recorder = Recorder()
    client(recorder).post_reply("1850", "Send me a photo of an aircraft.", [])
    assert json.loads(recorder.requests[0].content) == {
        "text": "Send me a photo of an aircraft.",
        "reply": {"in_reply_to_tweet_id": "1850"},
    }


def test_large_images_are_uploaded_in_chunks() -> None:
    recorder = Recorder()
    data = JPEG * 3
    x = client(recorder, chunked_upload_above_bytes=len(JPEG), chunk_bytes=len(JPEG))
    media_id = x.upload_image(data, "image/jpeg")
    assert media_id == "501"
    assert recorder.paths() == [
        "/2/media/upload/initialize",
        "/2/media/upload/501/append",
        "/2/media/upload/501/append",
        "/2/media/upload/501/append",
        "/2/media/upload/501/finalize",
    ]
    assert json.loads(recorder.requests[0].content) == {
        "media_type": "image/jpeg",
        "total_bytes": len(data),
        "media_category": "tweet_image",
    }
    assert b'name="segment_index"\r\n\r\n2' in recorder.requests[3].content


def test_alt_text_is_cut_to_xs_thousand_characters() -> None:
    recorder = Recorder()
    client(recorder).set_alt_text("7", "a" * 1500)
    text = json.loads(recorder.requests[0].content)["metadata"]["alt_text"]["text"]
    assert len(text) == 1000 and text.endswith("…")


@pytest.mark.parametrize(
    ("text", "images"),
    [("x" * 281, []), ("日本" * 71, []), ("ok", [ReplyImage(JPEG, "image/jpeg", "")] * 5)],
)
def test_replies_x_would_refuse_are_refused_before_any_request(
    text: str, images: list[ReplyImage]
) -> None:
    recorder = Recorder()
    with pytest.raises(PermanentError):
        client(recorder).post_reply("1", text, images)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("data", "mime"), [(JPEG, "image/bmp"), (b"", "image/jpeg"), (JPEG * 3000, "image/jpeg")]
)
def test_images_x_would_refuse_are_not_uploaded(data: bytes, mime: str) -> None:
    with pytest.raises(PermanentError):
        client(Recorder()).upload_image(data, mime)


def test_fetch_post_asks_for_media_and_reads_photos_author_and_parent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return x_json(
            200,
            {
                "data": {
                    "id": "1850",
                    "text": "@aircraftml this?",
                    "author_id": "2001",
                    "attachments": {"media_keys": ["3_1", "7_2"]},
                    "referenced_tweets": [
                        {"type": "quoted", "id": "5"},
                        {"type": "replied_to", "id": "9"},
                    ],
                    "edit_history_tweet_ids": ["1850"],
                },
                "includes": {
                    "media": [
                        {
                            "media_key": "3_1",
                            "type": "photo",
                            "url": "https://pbs.twimg.com/media/A.jpg",
                        },
                        {"media_key": "7_2", "type": "video"},
                    ],
                    "users": [{"id": "2001", "name": "Alice", "username": "alice"}],
                },
            },
        )

    post = client(handler).fetch_post("1850")
    assert dict(seen[0].url.params) == {
        "expansions": "attachments.media_keys,author_id,referenced_tweets.id",
        "media.fields": "url,type,alt_text",
        "tweet.fields": "conversation_id,note_tweet",
        "user.fields": "username",
    }
    assert (post.id, post.author_id, post.author_handle) == ("1850", "2001", "alice")
    assert post.photo_urls == ("https://pbs.twimg.com/media/A.jpg?format=jpg&name=large",)
    assert post.in_reply_to_id == "9"


def refusing(names: str) -> Handler:
    """X answering 400 to any lookup whose query uses ``names``' parameter, else a post."""

    def handler(request: httpx.Request) -> httpx.Response:
        if names in request.url.params:
            message = f"The query parameter [{names}] is not one of [id,expansions]"
            return x_json(400, {"errors": [{"message": message}], "title": "Invalid Request"})
        post = {"id": "5", "text": "hi", "author_id": "7", "note_post": {"text": "long hi"}}
        return x_json(200, {"data": post, "includes": {"users": [{"id": "7", "username": "u"}]}})

    return handler


def test_a_lookup_refused_in_one_dialect_is_retried_in_the_other_and_remembered() -> None:
    seen: list[httpx.Request] = []
    refuse = refusing("tweet.fields")
    x = client(lambda r: seen.append(r) or refuse(r))
    assert x.fetch_post("5").text == "long hi"
    assert x.fetch_post("5").author_handle == "u"
    assert [("post.fields" in r.url.params) for r in seen] == [False, True, True]


def test_a_400_that_names_none_of_the_dialects_names_is_permanent() -> None:
    body = {"errors": [{"message": "The `id` query parameter value [x] is not valid"}]}
    with pytest.raises(PermanentError, match="is not valid"):
        client(lambda r: x_json(400, body)).fetch_post("5")


def test_fetch_post_of_a_missing_post_is_permanent() -> None:
    body = {
        "errors": [{"detail": "Could not find tweet with id: [1].", "title": "Not Found Error"}]
    }
    with pytest.raises(PermanentError, match="Could not find tweet"):
        client(lambda r: x_json(200, body)).fetch_post("1")


# --- photo downloads ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def slow_body(clock: Clock, chunks: int, seconds_each: float) -> Iterator[bytes]:
    yield JPEG[:4]
    for _ in range(chunks):
        clock.now_s += seconds_each
        yield b"\x00" * 100


def image(data: bytes = JPEG, **headers: str) -> httpx.Response:
    return httpx.Response(200, content=data, headers={"content-type": "image/jpeg", **headers})


def test_a_photo_from_an_x_media_host_is_downloaded_without_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return image()

    assert client(handler).download_photo(PHOTO) == JPEG
    assert "authorization" not in seen[0].headers


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://pbs.twimg.com/media/A1.jpg", "https"),
        ("ftp://pbs.twimg.com/media/A1.jpg", "https"),
        ("https://evil.example/media/A1.jpg", "not an X media host"),
        ("https://pbs.twimg.com.evil.example/A1.jpg", "not an X media host"),
        ("https://169.254.169.254/latest/meta-data", "not an X media host"),
    ],
)
def test_photos_from_elsewhere_are_refused_before_any_request(url: str, reason: str) -> None:
    seen: list[httpx.Request] = []
    x = client(lambda r: seen.append(r) or image())
    with pytest.raises(PhotoError, match=reason):
        x.download_photo(url)
    assert seen == []


def test_a_photo_declared_too_large_is_refused() -> None:
    x = client(lambda r: image(**{"content-length": "999999999"}), photo_max_bytes=1000)
    with pytest.raises(PhotoError, match="above 1000"):
        x.download_photo(PHOTO)


def test_a_photo_that_grows_too_large_while_streaming_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=iter([JPEG] * 50), headers={"content-type": "image/jpeg"}
        )

    with pytest.raises(PhotoError, match="more than 10000 bytes"):
        client(handler, photo_max_bytes=10_000).download_photo(PHOTO)


def test_a_photo_that_trickles_in_too_slowly_is_refused() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=slow_body(clock, 20, 1.0), headers={"content-type": "image/jpeg"}
        )

    x = client(handler, photo_timeout_s=5.0, clock=clock)
    with pytest.raises(PhotoError, match=r"took more than 5\.0 s"):
        x.download_photo(PHOTO)


def redirecting(locations: list[str]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if locations:
            return httpx.Response(302, headers={"location": locations.pop(0)})
        return image()

    return handler


def test_redirects_within_x_media_hosts_are_followed() -> None:
    hops = ["https://ton.twimg.com/a.jpg", "/b.jpg"]
    assert client(redirecting(hops)).download_photo(PHOTO) == JPEG


def test_too_many_redirects_are_refused() -> None:
    hops = [f"https://pbs.twimg.com/{i}.jpg" for i in range(5)]
    with pytest.raises(PhotoError, match="more than 2 redirects"):
        client(redirecting(hops), max_redirects=2).download_photo(PHOTO)


@pytest.mark.parametrize(
    "hop", ["https://evil.example/a.jpg", "http://pbs.twimg.com/a.jpg", "http://127.0.0.1/a.jpg"]
)
def test_a_redirect_leaving_the_media_hosts_or_https_is_refused(hop: str) -> None:
    with pytest.raises(PhotoError):
        client(redirecting([hop])).download_photo(PHOTO)


def test_a_redirect_chain_is_bounded_in_total_time() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now_s += 4.0
        return httpx.Response(302, headers={"location": "https://pbs.twimg.com/again.jpg"})

    x = client(handler, photo_timeout_s=10.0, max_redirects=10, clock=clock)
    with pytest.raises(PhotoError, match="took more than"):
        x.download_photo(PHOTO)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(404), PhotoError),
        (httpx.Response(403), PhotoError),
        (httpx.Response(200, content=b"", headers={"content-type": "image/jpeg"}), PhotoError),
        (httpx.Response(200, text="<html>", headers={"content-type": "text/html"}), PhotoError),
        (httpx.Response(503), TransientError),
        (httpx.Response(429, headers={"x-rate-limit-reset": "5"}), RateLimited),
        (httpx.Response(503, content=iter([b"streamed, unread body"])), TransientError),
    ],
)
def test_photo_answers_map_onto_the_error_tree(response: httpx.Response, error: type) -> None:
    with pytest.raises(error):
        client(lambda r: response).download_photo(PHOTO)


def test_plain_http_media_only_with_the_testing_flag() -> None:
    url = "http://127.0.0.1:8081/media/3_1.jpg"
    with pytest.raises(PhotoError, match="https"):
        client(lambda r: image(), media_hosts=("127.0.0.1",)).download_photo(url)
    x = client(lambda r: image(), media_hosts=("127.0.0.1",), allow_insecure_media_for_testing=True)
    assert x.download_photo(url) == JPEG


# --- weighted length ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("", 0),
        ("Boeing 737-800 (91%)", 20),
        ("a" * 280, 280),
        ("日本語", 6),  # CJK weighs 2
        ("Ελληνικά", 8),  # Greek is inside U+0000-U+10FF
        ("한국어", 6),
        ("\u201cquotes\u201d \u2014 \u2032", 12),  # general punctuation ranges weigh 1
        ("→", 2),  # outside the light ranges
        ("👍", 2),
        ("👍🏽", 2),  # skin tone joins the emoji
        ("👨‍👩‍👧", 2),  # ZWJ sequence counts once
        ("🇫🇷🇩🇪", 4),  # two flags
        ("see https://example.com/a/very/long/path/indeed?with=query", 27),
        ("www.x.com", 23),
        ("e\u0301", 1),  # NFC: e + combining acute becomes é
    ],
)
def test_weighted_length_follows_twitter_text_v3(text: str, length: int) -> None:
    assert weighted_length(text) == length


def test_the_280_limit_in_weighted_characters() -> None:
    assert weighted_length("日" * 140) == 280
    assert weighted_length("日" * 140 + "a") == 281


@pytest.mark.parametrize(
    "module",
    ["x", "x_auth", "x_text", "x_webhook", "x_events", "fake_x", "fake_x_model"],
)
def test_every_name_in_all_exists(module: str) -> None:
    import importlib

    loaded = importlib.import_module(f"aircraftml.platforms.{module}")
    assert loaded.__all__ and all(hasattr(loaded, name) for name in loaded.__all__)
