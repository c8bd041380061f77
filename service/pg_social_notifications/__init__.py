"""Postgres-native social notifications: triggers write, the service pushes."""
