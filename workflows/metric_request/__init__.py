"""Guided metric request: form → Metrics Dictionary candidates → answered, joined, or filed exactly once.

Plain Python in and out (no Slack types), one module per job:
- `form`: `validate` → `start_request` (stores the request under the submission's key with its
  candidates) → `answer` ("This is it"); the request's `summary` line.
- `duplicates`: `find_duplicates` → `join` ("Add me to it"), with "+1" notes on the earlier issue.
- `filing`: `file_request`, through the outbox (`workflows/outbox.py`): stored before GitLab is
  called, found by its marker after a crash, retried until filed.
- `notify`: the follow-up `metric_request.notify` that records the issue, DMs everyone who asked for
  it and posts a note in #cs-product-analytics; the retry step for missing "+1" notes.
"""
