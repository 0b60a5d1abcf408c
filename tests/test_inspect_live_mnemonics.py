"""Alt+letter in the Inspect and Live tabs reaches one control: none of their mnemonics is taken twice, nor by a
tab's title or a menu (Alt+L focused a button, not the Live tab; Alt+T stopped playback instead of opening Train)."""

import re

import pytest
from PySide6.QtWidgets import QAbstractButton, QLabel


def mnemonic(text: str) -> str | None:
    found = re.search(r"&([^&])", text.replace("&&", ""))
    return found.group(1).lower() if found else None


@pytest.mark.parametrize("tab_name", ["inspect_tab", "live_tab"])
def test_every_mnemonic_in_the_tab_is_its_own(window, qtbot, tab_name):
    tab = getattr(window, tab_name)
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab_name != "live_tab" or bool(tab.add_buttons), timeout=10_000)
    owners: dict[str, list[str]] = {}
    for i in range(window.tabs.count()):
        owners.setdefault(mnemonic(window.tabs.tabText(i)), []).append(f"tab {window.tabs.tabText(i)}")
    for action in window.menuBar().actions():
        owners.setdefault(mnemonic(action.text()), []).append(f"menu {action.text()}")
    texts = [b.text() for b in tab.findChildren(QAbstractButton)]
    texts += [label.text() for label in tab.findChildren(QLabel) if label.buddy() is not None]
    for text in dict.fromkeys(texts):
        letter = mnemonic(text)
        if letter is not None:
            owners.setdefault(letter, []).append(text)
    owners.pop(None, None)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}
