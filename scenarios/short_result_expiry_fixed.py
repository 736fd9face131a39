"""The fix for short-result-expiry: keys live longer than the header runs."""

import dataclasses

from short_result_expiry import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="short-result-expiry-fixed",
    description="result_expires=60 s with 2 s header parts",
    expect="completed",
    expect_cause=None,
    fix=None,
    config={"result_expires": 60, "result_chord_expires": 60},
)
