"""The ``[voice]`` section: on by default, volume in percent, checked like every section."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, config_from_dict


def test_voice_is_on_by_default():
    voice = config_from_dict({}).voice
    assert voice.enabled and voice.volume == 80 and voice.sounds_dir == ""


@pytest.mark.parametrize("table, says", [
    ({"volume": 101}, "voice.volume: must be from 0 to 100"),
    ({"volume": 0.5}, "voice.volume: expected an integer"),
    ({"enabled": "yes"}, "voice.enabled: expected true or false"),
    ({"language": "en"}, "voice.language: unknown key"),
])
def test_a_bad_voice_setting_names_its_key(table, says):
    with pytest.raises(ConfigError) as exc:
        config_from_dict({"voice": table})
    assert str(exc.value).startswith(says) and "\n" not in str(exc.value)
