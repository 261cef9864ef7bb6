"""The public web pages: subscribe with double opt-in, unsubscribe, erase, archive and calendar feed.

`handlers/web.py` mounts them on the bot's one web server. Pages only translate: forms become the
neutral commands of `bot.commands`, carried out by the Dispatcher like any chat command.
"""
