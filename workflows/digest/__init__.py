"""The monthly digest of Unknown instances: composing it (compose.py), delivering it exactly once per TAM and
month (delivery.py), the clock's jobs (jobs.py) and when each TAM's DM is due (schedule.py)."""
