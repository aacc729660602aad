"""The README stays true to the code: quickstart, configuration table, walkthrough shape."""

import re

from service.config import Settings
from tests.cli.readme import README, code_snippets, normalize, walkthrough_steps


def test_quickstart_starts_with_make_serve_then_make_test():
    quickstart = README.read_text().split("## Quickstart", 1)[1]
    commands = re.findall(r"^\$ (.+)$", quickstart, re.M)
    assert commands[:2] == ["make serve", "make test"]


def test_every_setting_is_in_the_configuration_table():
    text = README.read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(FORMWRIGHT_[A-Z0-9_]+)`", table, re.M))
    expected = {f"FORMWRIGHT_{name.upper()}" for name in Settings.model_fields}
    expected |= {"FORMWRIGHT_URL", "FORMWRIGHT_API_KEY"}
    assert expected - documented == set(), "settings missing from the README's table"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_walkthrough_covers_register_import_train_generate():
    commands = [s.command for s in walkthrough_steps()]
    assert commands, "no <!-- walkthrough --> blocks found"
    for needed in ("login", "schemas register", "examples import", "train", "generate"):
        assert any(c.startswith(f"formwright {needed}") for c in commands), needed
    assert all(s.shown for s in walkthrough_steps()), "every step shows its output"
    assert {lang for lang, _ in code_snippets()} == {"bash", "python"}


def test_walkthrough_parsing():
    text = """
<!-- walkthrough -->
```console
$ formwright a
out 1
┃ x ┃ 12 ┃
$ formwright b
```
<!-- /walkthrough -->
"""
    steps = walkthrough_steps(text)
    assert [(s.command, s.shown) for s in steps] == [
        ("formwright a", ["out 1", "┃ x ┃ 12 ┃"]),
        ("formwright b", []),
    ]
    assert normalize("┃ x   ┃ 12 ┃") == "x 0"
