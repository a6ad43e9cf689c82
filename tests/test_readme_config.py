"""The README's configuration table names every setting, so none goes undocumented."""

from __future__ import annotations

import re
from pathlib import Path

from boothcloud.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_configuration_table() -> None:
    text = README.read_text()
    table = text[text.index("## Configuration") : text.index("## Architecture")]
    documented = set(re.findall(r"`BOOTHCLOUD_([A-Z0-9_]+)`", table))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README's table"
    assert documented - expected == set(), "the README documents settings that do not exist"
