"""The listed download URLs: held for files only, handed out once, only while fresh."""

from __future__ import annotations

from ms365sync.sync.downloadurls import URL_FRESH_FOR_S, DownloadUrls

URL = "https://contoso.sharepoint.com/_layouts/15/download.aspx?UniqueId=1&tempauth=v1.secret"
NEWER = URL.replace("secret", "newer")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_url_is_handed_out_once() -> None:
    urls = DownloadUrls(Clock())
    urls.note("01A", URL)
    assert urls.take("01A") == URL
    assert urls.take("01A") is None  # a retry asks /content
    assert len(urls) == 0


def test_a_url_past_the_freshness_limit_is_not_handed_out_and_is_dropped() -> None:
    clock = Clock()
    urls = DownloadUrls(clock)
    urls.note("01A", URL)
    urls.note("01B", URL)
    clock.now += URL_FRESH_FOR_S - 1
    assert urls.take("01A") == URL
    clock.now += 1
    assert urls.take("01B") is None
    assert len(urls) == 0
    assert 45 * 60 <= URL_FRESH_FOR_S < 60 * 60  # inside the service's hour (graph-facts §8.3)


def test_listing_an_item_again_replaces_or_forgets_its_url() -> None:
    clock = Clock()
    urls = DownloadUrls(clock)
    urls.note("01A", URL)
    clock.now += URL_FRESH_FOR_S - 10
    urls.note("01A", NEWER)  # listed again later in the round: newer URL, newer time
    clock.now += 20
    assert urls.take("01A") == NEWER
    urls.note("01B", URL)
    urls.note("01B", None)  # then deleted, or now a folder
    assert urls.take("01B") is None


def test_retain_keeps_only_the_files_to_fetch() -> None:
    urls = DownloadUrls(Clock())
    for item_id in ("01A", "01B", "01C"):
        urls.note(item_id, URL)
    urls.retain({"01B", "01Z"})
    assert len(urls) == 1
    assert urls.take("01B") == URL


def test_the_repr_holds_no_url() -> None:
    urls = DownloadUrls(Clock())
    urls.note("01A", URL)
    assert "tempauth" not in repr(urls)
    assert "1 held" in repr(urls)


def test_urls_come_back_exactly_and_are_held_deflated() -> None:
    urls = DownloadUrls()
    base = "https://contoso.sharepoint.com/sites/Team%20Site/_layouts/15/download.aspx"
    listed = {
        f"01ID{n:04d}": f"{base}?UniqueId={n:08x}-aaaa&Translate=false&tempauth=v1.eyJ"
        f"{'pQrS' * (n % 7)}{n * 7919:x}.sig{n:x}&ApiVersion=2.0"
        for n in range(300)
    }
    listed["01ÜNI"] = base + "?x=é%20ü"  # any text comes back as it was
    for item_id, url in listed.items():
        urls.note(item_id, url)
    held = sum(len(packed) for packed, _ in urls._urls.values())
    assert held < sum(map(len, listed.values())) / 2
    assert {item_id: urls.take(item_id) for item_id in listed} == listed
