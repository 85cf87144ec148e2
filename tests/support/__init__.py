"""Helpers shared by the tests: data builders, fake-Slack conversations, the independent scoring oracle."""
