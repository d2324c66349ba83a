"""Recent articles kept with their text for backtests: the records are bot/store/archive.py."""

from bot.store.archive import Archive, article_id

__all__ = ["Archive", "article_id"]
