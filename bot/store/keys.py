"""Every key name newsbot uses, under one prefix."""

from __future__ import annotations


class Keys:
    """Every key name newsbot uses, under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: str) -> str:
        """`prefix` + parts joined by `:`."""
        return self.prefix + ":".join(parts)

    def feed(self, feed_id: str) -> str:
        """Hash of a feed's state: validators, error count, last poll."""
        return self("feed", feed_id)

    def seen(self, kind: str, digest: str) -> str:
        """Exact-duplicate key (url, guid, title) -> story id."""
        return self("seen", kind, digest)

    def story(self, story_id: str) -> str:
        """JSON of one story."""
        return self("story", story_id)

    def story_vector(self, story_id: str) -> str:
        """The story's version number, a newline, and its scoring profile as JSON (centroid,
        size, names, times); the version is what the atomic join checks (bot/dedup/index.py)."""
        return self("story", story_id, "vec")

    def lsh(self, day: str) -> str:
        """Hash of one event day: LSH band -> article id, and `s:<article id>` -> signature."""
        return self("lsh", day)

    def doc_freq(self, day: str) -> str:
        """Hash of one event day: term -> number of articles carrying it, `#n` -> articles."""
        return self("df", day)

    def story_chats(self, story_id: str) -> str:
        """Set of chats already alerted about a story."""
        return self("story", story_id, "chats")

    def story_matched(self, story_id: str) -> str:
        """Hash rule id -> JSON list of the terms that matched the story."""
        return self("story", story_id, "matched")

    def stories(self) -> str:
        """Sorted set of story ids by first-seen (wall-clock) time."""
        return self("stories")

    def term(self, term: str) -> str:
        """Inverted index: stories that carry a salient term, scored by event time."""
        return self("term", term)

    def sent(self, chat: str, story_id: str) -> str:
        """What `chat` was last shown of `story_id`: message ref and version."""
        return self("sent", chat, story_id)

    def placing(self, article_id: str) -> str:
        """Set while an article is being placed; cleared when its deliveries are queued."""
        return self("placing", article_id)

