"""Logs never carry a full phone number or a credential."""

from __future__ import annotations

import logging

import pytest

from app.logs import MaskingFilter, mask


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("联系 13812345678 谢谢", "联系 138****5678 谢谢"),
        (
            "GET /cgi-bin/message/send?access_token=abc123&x=1",
            "GET /cgi-bin/message/send?access_token=***&x=1",
        ),
        ("webhook/send?key=693a91f6-7xxx", "webhook/send?key=***"),
        ("Authorization: Bearer s3cr3t-token", "Authorization: Bearer ***"),
        ("订单号 202611230001234", "订单号 202611230001234"),  # longer digit runs are not phones
    ],
)
def test_mask(raw: str, masked: str) -> None:
    assert mask(raw) == masked


def test_filter_rewrites_formatted_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "phone %s", ("13900001111",), None)

    assert MaskingFilter().filter(record)
    assert record.getMessage() == "phone 139****1111"
