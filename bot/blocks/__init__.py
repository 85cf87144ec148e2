"""Block Kit primitives shared by every feature: formatting and escaping, Slack's limits, action ids."""
