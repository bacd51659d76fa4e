"""Hostile: never finishes."""

while True:
    pass
