"""The channels: one package per platform, each a whole channel, in and out (what arrives, what is
sent, its settings, templates, manifest and tables): `slack/`, `microsoft365/` (Teams, Exchange
mail, the calendar), `web/` (the public pages) and `console/`.

Each offers itself to the core as a `bot.channel.Channel`, built from the narrow `bot.core.Core`;
they are listed in `bot/entry/channels.py`. A channel never imports the entry points or another
channel.
"""
