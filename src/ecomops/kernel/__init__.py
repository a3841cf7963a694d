"""Tiny shared core every domain may import: errors, ids, money, time."""
