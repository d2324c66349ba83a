"""Chat platforms behind the Channel protocol: console, Telegram, Slack."""
