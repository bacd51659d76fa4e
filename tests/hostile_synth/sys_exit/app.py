"""Hostile: exits with an error code before synthesizing."""

import sys

sys.exit(3)
