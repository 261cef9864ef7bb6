"""The rules: each module carries out one area's state changes inside the caller's transaction."""
