"""Doctor: the live front, for a deployment the lab did not start.

    a user's deployment → observe.live (read) → judge.live (pure) → cause and fix

``diagnose`` (read by id, judge the reading, render; ``--save``) and ``audit``
(the static risks in an app's configuration).  Nothing here reads a system
itself: the readers are ``lab.observe``'s.
"""
