"""The lab in a user's own test suite: proven chord verdicts from pytest.

    a user's app + worker lines → scenario → topology up (once) → **a test's chord sent → verdict with proof**

``chords.py`` keeps a user's topology up and judges one test's chords at a time
(``ChordLab``), resetting the broker, the backend and the ledger between them;
``plugin.py`` is the pytest plugin (registered through the ``pytest11`` entry
point): the ``lab_app`` / ``lab_workers`` ini options, the ``lab_workers``
marker, and the fixtures ``chord_lab``, ``lab_verdict`` and
``assert_chord_completes``.  Nothing heavy is imported until it is used: pytest
loads the plugin in every suite of an environment the lab is installed in.
"""

from __future__ import annotations

__all__ = ["ChordLab", "ChordNotCompleted", "ChordVerdict", "Deployment"]


def __getattr__(name: str):
    if name in __all__:
        from lab.testing import chords

        return getattr(chords, name)
    raise AttributeError(name)
