"""A user's own task package shipped beside scenario scripts (``regex-route``, ``router-object``, ``split-apps``).

Not a scenario: ``scenarios/*.py`` are scenarios, this folder is a package they import, as a real project's
tasks would be.  The producer and every worker import it from the scenario's own folder.
"""
