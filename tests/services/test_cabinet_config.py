"""``[cabinet]``: where the card reader and the cash slots are, for the screens' pictures; a
value that is not left/right/below is one error naming its key."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, config_from_dict


def test_defaults():
    cab = config_from_dict({}).cabinet
    assert (cab.card_reader, cab.note_slot, cab.coin_slot) == ("right", "right", "below")


@pytest.mark.parametrize("key", ["card_reader", "note_slot", "coin_slot"])
@pytest.mark.parametrize("side", ["left", "right", "below"])
def test_each_side_is_taken(key, side):
    assert getattr(config_from_dict({"cabinet": {key: side}}).cabinet, key) == side


@pytest.mark.parametrize("table, key", [
    ({"card_reader": "rigth"}, "cabinet.card_reader"),
    ({"note_slot": "above"}, "cabinet.note_slot"),
    ({"coin_slot": 3}, "cabinet.coin_slot"),
    ({"card_readr": "left"}, "cabinet.card_readr"),
])
def test_a_typo_is_one_line_naming_its_key(table, key):
    with pytest.raises(ConfigError) as err:
        config_from_dict({"cabinet": table})
    assert str(err.value).startswith(key + ":") and "\n" not in str(err.value)
