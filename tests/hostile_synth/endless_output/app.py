"""Hostile: prints without end."""

line = "spam " * 200
while True:
    print(line)
