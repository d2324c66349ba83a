"""Grouping reports of one event into stories: exact copies, then same-story scoring."""
