"""Incoming channels: each module translates its platform's input into neutral commands and back."""
