"""`/usage metric TEXT-or-key_path`: a Metrics Dictionary definition as a card (also shown by the metric-request
flow).

No listeners of its own (routed by `/usage`)."""
