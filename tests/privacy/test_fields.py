"""The cheap pre-check of page URLs for personal query parameters never misses what the pattern finds
(it may flag more: the pattern then decides)."""

from __future__ import annotations

import pytest

from ecomops.privacy.fields import URL_PARAMETERS, url_may_hold_pii


@pytest.mark.parametrize(
    "raw",
    [
        b'{"url":"https://shop.example/p?email=a%40b.cn"}',
        b'{"url":"/checkout?x=1&Mobile=13800138000"}',
        b'{"url":"/c?TEL=1"}',
        b'{"url":"/a?first_name=li"}',
        b'{"url":"/a?ADDRESS=x"}',
        b'{"url":"/a?e-mail=x"}',
        b'{"url":"/a?q=1&phone=1"}',
    ],
)
def test_urls_with_personal_parameters_are_flagged(raw: bytes) -> None:
    assert URL_PARAMETERS.search(raw)
    assert url_may_hold_pii(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"url":"/c/dresses?utm_source=douyin&utm_medium=live"}',
        b'{"url":"/p"}',
        b"=",
        b"",
        b'{"q":"mail","x":"="}',  # the name and the "=" apart
    ],
)
def test_urls_without_them_are_not(raw: bytes) -> None:
    assert not url_may_hold_pii(raw)
