"""Loopback emulators of the HTTP APIs sprawlguard talks to (one module per service)."""
