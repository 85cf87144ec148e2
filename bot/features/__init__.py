"""The Slack edge, one folder per feature: its listeners (`register(app)` in the folder's `__init__`),
its Block Kit builders (`blocks.py`, pure) and the Slack side of its jobs. `bot.app.FEATURES` lists them."""
