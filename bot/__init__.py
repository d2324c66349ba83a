"""newsbot: breaking geopolitical news alerts for Telegram and Slack."""

__version__ = "0.1.0"
