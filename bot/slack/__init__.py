"""Slack: the Bolt app (HTTP or Socket Mode), identity, App Home, organiser modals and Block Kit posts.

`handlers/slack.py` mounts and starts it; everything here only translates between Slack and the core
(`bot.dispatch`), which alone changes state.
"""
