"""Hostile: allocates far more memory than the sandbox allows."""

blocks = []
while True:
    blocks.append(bytearray(512 * 1024 * 1024))
