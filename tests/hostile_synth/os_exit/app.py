"""Hostile: kills its own process without cleanup."""

import os

os._exit(7)
