"""The organisers' dashboard at /admin: sign-in (a one-time link from the CLI, or Microsoft), browser
sessions in SQL, and the pages to plan a series' sessions.

Pages only translate: every change goes through the services the chat commands and the CLI use
(`bot.services`), in one transaction with its audit row, the organiser as actor.
"""
