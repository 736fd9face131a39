"""Reports: RESULTS.md, regenerated from the records.

    scenario → … → verdict → record → **RESULTS.md**

``results`` (the document, section by section) and ``stability`` (how often a
scenario agrees with itself across runs).
"""
