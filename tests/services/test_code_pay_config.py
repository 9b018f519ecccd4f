"""``[gateway]``: the code tender is configured or not offered; a wrong value names its key."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, config_from_dict


def test_without_a_gateway_url_the_code_tender_is_off():
    assert config_from_dict({}).gateway.url == ""


def test_a_gateway_with_its_merchant_is_taken():
    cfg = config_from_dict({"gateway": {"url": "http://127.0.0.1:8090", "merchant": "UTILITY-01"}})
    assert (cfg.gateway.url, cfg.gateway.merchant) == ("http://127.0.0.1:8090", "UTILITY-01")


@pytest.mark.parametrize("table, key", [
    ({"url": "ftp://x", "merchant": "UTILITY-01"}, "gateway.url"),
    ({"url": "http://127.0.0.1:8090"}, "gateway.merchant"),
    ({"url": "http://127.0.0.1:8090", "merchant": "bad id"}, "gateway.merchant"),
    ({"url": "http://127.0.0.1:8090", "merchant": "UTILITY-01", "enrol_token": "short"},
     "gateway.enrol_token"),
    ({"urll": "http://127.0.0.1:8090"}, "gateway.urll"),
])
def test_a_wrong_gateway_value_names_its_key(table, key):
    with pytest.raises(ConfigError) as err:
        config_from_dict({"gateway": table})
    assert str(err.value).startswith(key)
