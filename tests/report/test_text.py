"""How values show in reports: only what hides or looks alike is escaped, and the characters
that differ inside a cell are marked."""

from __future__ import annotations

import unicodedata

from verify.report.text import marked, show, show_pair


def test_text_in_any_script_shows_as_it_is():
    assert show_pair("Søren", "Soren") == ("Søren", "Soren")
    assert show_pair("東京", "大阪") == ("東京", "大阪")


def test_look_alikes_and_invisibles_show_as_code_points():
    nfc, nfd = "Zoë", unicodedata.normalize("NFD", "Zoë")
    assert show_pair(nfc, nfd) == ("Zo\\u00eb", "Zoe\\u0308")
    assert show("a\u200bb") == "a\\u200bb"  # a zero-width space
    assert show_pair("a\u00a0b", "a b") == ("a\\u00a0b", "a b")  # a no-break space
    assert show("name ") == "name␣"


def test_the_characters_that_differ_are_cut_out_for_marking():
    assert marked("ivan.6262@corp", "ivan.6262@@corp") == (
        ("ivan.6262@", "", "corp"),
        ("ivan.6262@", "@", "corp"),
    )
    assert marked("abc", "abd") == (("ab", "c", ""), ("ab", "d", ""))
    assert marked("same", "same") == (("same", "", ""), ("same", "", ""))
    assert marked("", "x") == (("", "", ""), ("", "x", ""))
