"""The Slack side of a data sync: health-drop alerts, Home refreshes, a failed sync's notice."""
