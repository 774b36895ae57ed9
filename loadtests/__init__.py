"""Locust user classes and the catalog snapshot they pick from. Runs without Django."""
