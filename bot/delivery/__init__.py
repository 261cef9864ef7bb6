"""The delivery engine: invitations, reminders and follow-ups on time and exactly once.

State lives in SQL: the planner (`planner.py`, leader only) turns due messages into outbox rows
(`Fanout` → `Delivery`); workers (`worker.py`, in every process) claim rows, pace them per rate-limited
key (`pacing.py`) and hand them to a channel's `Sender` (`channels.py`). APScheduler only wakes them.
"""
