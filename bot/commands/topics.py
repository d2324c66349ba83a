"""`/topics`, `/subscribe`, `/unsubscribe`: the shared topics of the rule files a chat follows."""

from __future__ import annotations

import difflib

from bot.chats import ChatDirectory
from bot.commands.call import Call, Handler, need_manage, no_args, one_word
from bot.commands.protocol import CommandReply
from bot.routing import RuleBook


class TopicCommands:
    """Lists the shared topics and follows or leaves them for a chat."""

    def __init__(self, *, chats: ChatDirectory, rules: RuleBook) -> None:
        self.chats = chats
        self.rules = rules

    def handlers(self) -> dict[str, Handler]:
        """The commands this area answers."""
        return {"topics": self.topics, "subscribe": self.subscribe,
                "unsubscribe": self.unsubscribe}

    async def topics(self, call: Call, args: str) -> CommandReply:
        """`/topics`: every shared topic, marked when this chat follows it."""
        no_args(args, "topics")
        topics = sorted(self.rules.topics.values(), key=lambda t: t.name)
        if not topics:
            return call.reply(call.t("topics.empty"))
        followed = await self.chats.topics_of(call.chat)
        return call.reply(call.t("topics.header"), *(
            call.t("topics.on" if t.name in followed else "topics.off", name=t.name,
                   description=t.description or t.expression) for t in topics))

    async def subscribe(self, call: Call, args: str) -> CommandReply:
        """`/subscribe <topic>`."""
        need_manage(call)
        name = one_word(args, "subscribe")
        topic = self._topic_named(name)
        if topic is None:
            return self._unknown_topic(call, name)
        added = await self.chats.subscribe(call.chat, topic)
        return call.reply(call.t("topic.subscribed" if added else "topic.already", topic=topic))

    async def unsubscribe(self, call: Call, args: str) -> CommandReply:
        """`/unsubscribe <topic>` (also a topic that was removed from the rule files)."""
        need_manage(call)
        name = one_word(args, "unsubscribe")
        followed = await self.chats.topics_of(call.chat)
        topic = name if name in followed else self._topic_named(name)
        if topic is None:
            return self._unknown_topic(call, name)
        removed = await self.chats.unsubscribe(call.chat, topic)
        return call.reply(call.t("topic.unsubscribed" if removed else "topic.not_followed",
                                 topic=topic))

    def _topic_named(self, name: str) -> str | None:
        """The topic called `name`, ignoring case."""
        return {t.lower(): t for t in self.rules.topics}.get(name.lower())

    def _unknown_topic(self, call: Call, name: str) -> CommandReply:
        """An unknown topic: list the closest names (or all of them, if none is close)."""
        names = sorted(self.rules.topics)
        close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=3,
                                          cutoff=0.4)
        shown = [n for n in names if n.lower() in close] or names[:10]
        return call.fail("topic.unknown", topic=name,
                         names=", ".join(shown) or call.t("word.none"))
