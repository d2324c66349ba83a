"""Fetching and parsing feeds: HTTP RSS/Atom and local folders of seed files."""
