"""The Slack channel: Block Kit rendering and real slack_sdk calls over loopback HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import yaml
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ChannelError, ConfigError, MessageGoneError, RetryAfterError
from bot.models import Alert, Delivery, Story, StoryArticle
from bot.outbox import Deliverer, Outbox
from bot.platforms.slack import (
    CONTEXT_ELEMENTS,
    FALLBACK_LIMIT,
    MAX_BLOCKS,
    SECTION_LIMIT,
    SlackChannel,
    render_blocks,
)
from bot.store import Store, done
from tests.conftest import REPO
from tests.slack_server import SignedRequest, SlackServer, sign
from tests.stories import put_matched

TOKEN = "xoxb-1234-5678-SECRETtokenVALUE"
T0 = datetime(2024, 10, 21, 8, 30, tzinfo=UTC)


def article(outlet: str, title: str, url: str | None, *, dated: bool = True) -> StoryArticle:
    return StoryArticle(outlet=outlet, title=title, url=url, time=T0,
                        time_source="feed" if dated else "seen")


def sample_story(*articles: StoryArticle, version: int = 1) -> Story:
    members = articles or (
        article("DW", "韩国召见俄罗斯大使 抗议朝鲜派兵", "https://www.dw.com/zh/a-70554000"),
        article("VOA", "首尔就朝鲜派兵召见俄大使", "https://www.voachinese.com/a/7832000.html"),
        article("BBC", "朝鲜向俄罗斯派兵 韩国召见大使", None, dated=False),
    )
    return Story(id="s1", headline=members[0].title, first_seen=T0, updated=T0,
                 version=version, articles=members)


def sample_alert(story: Story | None = None, chat: str = "slack:C123") -> Alert:
    return Alert(chat=chat, story=story or sample_story(), terms=("朝鲜", "派兵"),
                 rules=("topic:nk",), summary="韩国外交部召见俄罗斯驻韩大使，抗议朝鲜派兵。",
                 timezone="Asia/Seoul")


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn/plain text string in the blocks."""
    found: list[str] = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        found.extend(e["text"] for e in block.get("elements", []) if "text" in e)
    return found


@pytest.fixture
async def slack() -> AsyncIterator[SlackServer]:
    """A Slack Web API server on loopback that knows channel C123 and the test token."""
    async with SlackServer(token=TOKEN, channels=("C123",)) as server:
        yield server


@pytest.fixture
async def channel(slack: SlackServer) -> AsyncIterator[SlackChannel]:
    """A SlackChannel entered against the loopback server."""
    async with SlackChannel(token=TOKEN, api_url=slack.api_url) as ch:
        yield ch


# ---- rendering


def test_render_has_linked_headline_summary_outlets_terms_and_time() -> None:
    """The one layout: linked headline, summary, linked outlets, terms and the local time."""
    text, blocks = render_blocks(sample_alert())
    head, summary, outlets, footer = texts(blocks)
    assert head == "*<https://www.dw.com/zh/a-70554000|韩国召见俄罗斯大使 抗议朝鲜派兵>*"
    assert summary == "韩国外交部召见俄罗斯驻韩大使，抗议朝鲜派兵。"
    assert outlets == ("3 outlets: <https://www.dw.com/zh/a-70554000|DW> · "
                       "<https://www.voachinese.com/a/7832000.html|VOA> · BBC")
    assert footer == "Matched: 朝鲜, 派兵 · First reported 2024-10-21 17:30 KST"
    assert [b["type"] for b in blocks] == ["section", "section", "context", "context"]
    assert text.startswith("Alert: 韩国召见俄罗斯大使") and "DW · VOA · BBC" in text
    assert summary in text


def test_render_update_is_marked_in_the_chat_language() -> None:
    """An update says so in the headline and in the fallback text, in the chat's language."""
    text, blocks = render_blocks(sample_alert(), update=True)
    assert texts(blocks)[0].endswith("_(updated)_")
    assert text.startswith("Update: ")
    text, blocks = render_blocks(replace(sample_alert(), lang="zh"), update=True)
    assert texts(blocks)[0].endswith("_（更新）_") and text.startswith("更新: ")
    assert texts(blocks)[2].startswith("3 家媒体：")


LINK = re.compile(r"<([^<>]*)>")


def test_render_escapes_mrkdwn_and_links_only_http() -> None:
    """`<script>`, `&`, `|`, `>` in titles are escaped, odd URLs cannot break links, and a
    `javascript:` URL is not linked."""
    story = sample_story(
        article("DW", "<script>alert(1)</script> A&B | C > D <!channel>",
                "https://dw.com/a?x=1&y=2|evil>tail"),
        article("Evil <!here>", "click | me", "javascript:alert(1)"),
        article("Ftp", "file", "ftp://example.com/f"),
    )
    alert = replace(sample_alert(story), summary="<!channel> & <b>", terms=("<x>",))
    text, blocks = render_blocks(alert)
    for mrkdwn in [*texts(blocks), text]:
        stripped = LINK.sub("", mrkdwn)
        assert "<" not in stripped and ">" not in stripped, mrkdwn
        for target in LINK.findall(mrkdwn):
            url, sep, label = target.partition("|")
            assert sep and re.fullmatch(r"https?://[^\s|<>]+", url), target
            assert "|" not in label and "<" not in label and ">" not in label
    joined = "\n".join(texts(blocks))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; A&amp;B" in joined
    assert "&lt;!channel&gt; &amp; &lt;b&gt;" in joined and "<!channel>" not in joined
    assert "<https://dw.com/a?x=1&amp;y=2%7Cevil%3Etail|" in joined
    assert "javascript:" not in joined and "ftp:" not in joined
    assert "Evil &lt;!here&gt; · Ftp" in joined and "&lt;x&gt;" in joined
    assert all(t["verbatim"] for b in blocks for t in [b.get("text", {}), *b.get("elements", [])]
               if t)


def test_render_huge_story_stays_within_slack_limits() -> None:
    """200 outlets with long names, a huge headline and summary and many terms still fit."""
    long_url = "https://example.com/?" + "a=1&" * 100  # 521 characters, 920 once escaped
    story = sample_story(*(article(f"Outlet {i} " + "&" * 60, "<标题>" * 100 + f" {i}",
                                   long_url[:100 + i * 3]) for i in range(200)))
    alert = Alert(chat="slack:C123", story=story, summary="&<>" * 5000,
                  terms=tuple(f"term{i}&" * 10 for i in range(60)))
    text, blocks = render_blocks(alert)
    assert len(blocks) <= MAX_BLOCKS
    assert len(text) <= FALLBACK_LIMIT
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_LIMIT
        else:
            assert len(block["elements"]) <= CONTEXT_ELEMENTS
            assert all(len(e["text"]) <= SECTION_LIMIT for e in block["elements"])
    assert texts(blocks)[1].endswith("…")
    assert texts(blocks)[2].startswith("200 outlets: ") and texts(blocks)[2].endswith(" more")


# ---- the channel over HTTP


async def test_send_posts_blocks_and_returns_ts(slack: SlackServer,
                                                channel: SlackChannel) -> None:
    """send() calls chat.postMessage with the channel, text and blocks and returns the ts."""
    ts = await channel.send(sample_alert())
    (call,) = slack.calls_to("chat.postMessage")
    assert call.params["channel"] == "C123"
    assert call.params["blocks"] == render_blocks(sample_alert())[1]
    assert call.params["text"] == render_blocks(sample_alert())[0]
    assert call.params["unfurl_links"] is False
    assert call.token == TOKEN and call.content_type == "application/json"
    assert ts == slack.messages["C123"][0]["ts"]
    assert re.fullmatch(r"\d{10}\.\d{6}", ts)


async def test_a_notice_to_an_admin_goes_to_the_user_id_as_escaped_text(
        slack: SlackServer, channel: SlackChannel) -> None:
    """An admin notice (feed switched off) is one mrkdwn message, escaped, without blocks,
    posted to the admin's user id (Slack delivers it in the app's direct messages)."""
    [message] = channel.notice_messages("Feed a<b> & c was switched off\nrun `x`")
    ts = await channel.post("slack:U123", message)
    (call,) = slack.calls_to("chat.postMessage")
    assert call.params["channel"] == "U123" and "blocks" not in call.params
    assert call.params["text"] == "Feed a&lt;b&gt; &amp; c was switched off\nrun `x`"
    [posted] = slack.messages[slack.dm_channel("U123")]
    assert posted["ts"] == ts and posted["text"] == call.params["text"]


async def test_edit_updates_the_message_at_ts(slack: SlackServer,
                                              channel: SlackChannel) -> None:
    """edit() calls chat.update with the stored ts and replaces the blocks in place."""
    ts = await channel.send(sample_alert())
    grown = sample_story(*sample_story().articles, article("RFI", "新报道", None), version=2)
    await channel.edit(ts, sample_alert(grown))
    (call,) = slack.calls_to("chat.update")
    assert (call.params["channel"], call.params["ts"]) == ("C123", ts)
    (message,) = slack.messages["C123"]
    assert message["blocks"] == render_blocks(sample_alert(grown), update=True)[1]
    assert "4 outlets" in json.dumps(message["blocks"], ensure_ascii=False)


async def test_edit_of_unknown_ts_is_message_gone(channel: SlackChannel) -> None:
    """chat.update of a message the server does not know surfaces as MessageGoneError."""
    with pytest.raises(MessageGoneError,
                       match=r"message 1\.000100 in channel C123: message_not_found"):
        await channel.edit("1.000100", sample_alert())


async def test_429_is_retry_after_and_the_client_does_not_retry(
        slack: SlackServer, channel: SlackChannel) -> None:
    """A 429 becomes RetryAfterError with the Retry-After value, after exactly one request."""
    slack.rate_limit("chat.postMessage", times=1, retry_after=7)
    with pytest.raises(RetryAfterError) as caught:
        await channel.send(sample_alert())
    assert caught.value.retry_after == 7.0
    assert "ratelimited" in str(caught.value)
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert not slack.messages["C123"]


async def test_channel_not_found_names_the_channel(slack: SlackServer,
                                                   channel: SlackChannel) -> None:
    """An unknown channel surfaces as ChannelError naming the channel and Slack's error."""
    with pytest.raises(ChannelError) as caught:
        await channel.send(sample_alert(chat="slack:C999"))
    assert not isinstance(caught.value, RetryAfterError)
    assert str(caught.value) == "slack: unable to post to channel C999: channel_not_found"


async def test_bad_chat_ids_are_refused_before_any_request(slack: SlackServer,
                                                           channel: SlackChannel) -> None:
    """A chat id of another platform or a malformed ts is a ChannelError without a call."""
    with pytest.raises(ChannelError, match="not a slack chat id"):
        await channel.send(sample_alert(chat="telegram:123"))
    with pytest.raises(ChannelError, match="not a message reference"):
        await channel.edit("abc", sample_alert())
    assert not slack.calls_to("chat.postMessage") and not slack.calls_to("chat.update")


async def test_rejected_token_is_a_config_error_on_enter(slack: SlackServer) -> None:
    """Entering with a token the server rejects raises ConfigError without the token in it."""
    with pytest.raises(ConfigError) as caught:
        async with SlackChannel(token="xoxb-wrong-token", api_url=slack.api_url):
            pass
    assert "xoxb-wrong-token" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert slack.calls_to("auth.test")[0].token == "xoxb-wrong-token"


async def test_unreachable_api_is_a_channel_error() -> None:
    """A base URL where nothing listens surfaces as ChannelError, not an aiohttp error."""
    async with SlackServer(token=TOKEN) as gone:
        url = gone.api_url
    with pytest.raises(ChannelError, match="slack: unable to reach the Web API at"):
        async with SlackChannel(token=TOKEN, api_url=url):
            pass


async def test_token_never_appears_in_reprs_or_errors(slack: SlackServer,
                                                      channel: SlackChannel) -> None:
    """The token shows in no str/repr of the channel or of the errors it raises."""
    seen = [str(channel), repr(channel)]
    slack.rate_limit("chat.postMessage", retry_after=1)
    slack.fail("chat.update", "internal_error", status=500)
    for action in (channel.send(sample_alert()), channel.send(sample_alert(chat="slack:C9")),
                   channel.edit("1.000100", sample_alert())):
        with pytest.raises(ChannelError) as caught:
            await action
        error: BaseException | None = caught.value
        while error is not None:  # the whole chain a traceback would print
            seen += [str(error), repr(error)]
            error = error.__cause__ or error.__context__
    assert seen and not [s for s in seen if TOKEN in s]


async def test_api_url_is_a_base_that_methods_are_appended_to(slack: SlackServer) -> None:
    """SLACK_API_URL is a base: with or without the trailing slash calls land at <base><method>."""
    for base in (slack.api_url, slack.api_url.rstrip("/")):
        async with SlackChannel(token=TOKEN, api_url=base) as ch:
            assert ch.api_url == slack.api_url
            await ch.send(sample_alert())
    assert [c.method for c in slack.calls] == ["auth.test", "chat.postMessage"] * 2
    with pytest.raises(ChannelError, match="HTTP 404"):  # the base lacks /api/
        async with SlackChannel(token=TOKEN, api_url=slack.url + "/"):
            pass
    assert len(slack.calls) == 4  # only /api/<method> is served and recorded


async def test_enter_opens_and_exit_closes_its_own_session(slack: SlackServer) -> None:
    """The channel owns the aiohttp session it opened, and leaves a caller's session open."""
    async with SlackChannel(token=TOKEN, api_url=slack.api_url) as ch:
        session = ch.client.session
        assert session is not None and not session.closed
    assert session.closed and ch.client.session is None
    async with aiohttp.ClientSession() as mine:
        async with SlackChannel(token=TOKEN, api_url=slack.api_url, session=mine) as ch:
            await ch.send(sample_alert())
        assert not mine.closed
    assert ch.bot_user_id == "U0NEWSBOT"


# ---- the test server itself (for the command front end)


async def test_server_speaks_form_bodies_and_the_other_methods(slack: SlackServer) -> None:
    """Form-encoded posts, users.info (GET) and chat.postEphemeral work like Slack's."""
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
    form = await client.api_call("chat.postMessage", data={
        "channel": "C123", "text": "hi", "blocks": json.dumps([{"type": "divider"}])})
    assert form["ts"] and slack.messages["C123"][0]["blocks"] == [{"type": "divider"}]
    user = await client.users_info(user="U123")
    assert user["user"]["tz"] == "Asia/Shanghai"
    ephemeral = await client.chat_postEphemeral(channel="C123", user="U123", text="only you")
    assert ephemeral["message_ts"] and slack.ephemeral[0]["text"] == "only you"
    methods = [(c.method, c.http_verb) for c in slack.calls]
    assert methods == [("chat.postMessage", "POST"), ("users.info", "GET"),
                       ("chat.postEphemeral", "POST")]
    assert slack.calls[0].content_type == "application/x-www-form-urlencoded"
    assert slack.calls[2].content_type == "application/json"
    reply = await _raw_post(slack.api_url + "auth.test", token="xoxb-nope")
    assert reply == {"ok": False, "error": "invalid_auth"}


async def _raw_post(url: str, *, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.post(url, headers=headers) as resp:
        return await resp.json()


async def test_signed_slash_command_verifies_and_response_url_records(
        slack: SlackServer) -> None:
    """The slash-command helper signs like Slack, and posts to its response_url are kept."""
    request = slack.slash_command("rule add 朝鲜 + 派兵", channel_id="C123", user_id="U123")
    verifier = SignatureVerifier(slack.signing_secret)
    assert verifier.is_valid_request(request.body, request.headers)
    assert not SignatureVerifier("other-secret").is_valid_request(request.body, request.headers)
    stamp = request.headers["X-Slack-Request-Timestamp"]
    assert request.headers["X-Slack-Signature"] == sign(slack.signing_secret, stamp,
                                                        request.body)
    form = request.form
    assert (form["command"], form["text"], form["channel_id"]) == (
        "/newsbot", "rule add 朝鲜 + 派兵", "C123")
    assert form["response_url"] == request.response_url and form["trigger_id"]
    async with aiohttp.ClientSession() as session, session.post(
            request.response_url, json={"text": "Rule added"}) as resp:
        assert resp.status == 200
    assert slack.responses[request.response_id] == [{"text": "Rule added"}]


def _bolt_request(request: SignedRequest) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = dict(request.headers)
    return AsyncBoltRequest(body=request.body, headers=headers)


async def test_signed_slash_command_drives_a_real_bolt_app(slack: SlackServer) -> None:
    """A bolt AsyncApp accepts the signed command, responds via response_url, refuses forgeries."""
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
    app = AsyncApp(client=client, signing_secret=slack.signing_secret,
                   process_before_response=True)

    @app.command("/newsbot")
    async def newsbot(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(f"got {command['text']} from {command['user_id']}")

    request = slack.slash_command("rule list")
    response = await app.async_dispatch(_bolt_request(request))
    assert response.status == 200
    (posted,) = slack.responses[request.response_id]
    assert posted["text"] == "got rule list from U123"
    forged = slack.slash_command("rule list", secret="not-the-secret")
    response = await app.async_dispatch(_bolt_request(forged))
    assert response.status == 401 and not slack.responses[forged.response_id]


# ---- end to end through the real outbox


async def _put_story(store: Store, story: Story) -> None:
    await put_matched(store, story, "topic:nk", ["朝鲜", "派兵"])


async def _deliver(deliverer: Deliverer, outbox: Outbox) -> int:
    await outbox.put(Delivery(chat="slack:C123", story_id="s1", rule_ids=("topic:nk",)))
    return await deliverer.drain()


async def test_outbox_posts_once_then_edits_as_the_story_grows(
        store: Store, slack: SlackServer, channel: SlackChannel) -> None:
    """Delivery posts one message for a new story and edits that message when it grows."""
    outbox = Outbox(store)
    await outbox.ensure_group()
    deliverer = Deliverer(store, outbox, {"slack": channel})
    story = sample_story()
    await _put_story(store, story)
    assert await _deliver(deliverer, outbox) == 1
    (post,) = slack.calls_to("chat.postMessage")
    assert "Matched: 朝鲜, 派兵" in json.dumps(post.params["blocks"], ensure_ascii=False)
    ts = slack.messages["C123"][0]["ts"]
    assert (await done(store.redis.hgetall(store.keys.sent("slack:C123", "s1"))))["ref"] == ts

    assert await _deliver(deliverer, outbox) == 0  # same version: nothing to do
    grown = replace(story, version=2,
                    articles=(*story.articles, article("RFI", "法广：朝鲜派兵", None)))
    await _put_story(store, grown)
    assert await _deliver(deliverer, outbox) == 1
    (update,) = slack.calls_to("chat.update")
    assert update.params["ts"] == ts
    assert len(slack.calls_to("chat.postMessage")) == 1 and len(slack.messages["C123"]) == 1
    assert "4 outlets" in json.dumps(slack.messages["C123"][0]["blocks"], ensure_ascii=False)
    assert await outbox.depth() == 0


async def test_outbox_waits_out_a_429_and_posts_exactly_once(
        store: Store, slack: SlackServer, channel: SlackChannel) -> None:
    """A 429 on the first post is retried by the outbox (not slack_sdk) and one message results."""
    outbox = Outbox(store)
    await outbox.ensure_group()
    deliverer = Deliverer(store, outbox, {"slack": channel})
    await _put_story(store, sample_story())
    slack.rate_limit("chat.postMessage", times=1, retry_after=0)
    assert await _deliver(deliverer, outbox) == 1
    assert len(slack.calls_to("chat.postMessage")) == 2  # the 429, then the outbox's retry
    assert len(slack.messages["C123"]) == 1
    assert await outbox.depth() == 0


def test_manifest_has_the_shape_slack_expects() -> None:
    """slack-manifest.yaml parses and has the command, scopes and settings Slack's schema allows."""
    manifest = yaml.safe_load((REPO / "slack-manifest.yaml").read_text(encoding="utf-8"))
    assert set(manifest) <= {"_metadata", "display_information", "features", "oauth_config",
                             "settings"}
    assert manifest["display_information"]["name"] == "newsbot"
    assert len(manifest["display_information"]["description"]) <= 140
    assert re.fullmatch(r"[\w\-.]+", manifest["features"]["bot_user"]["display_name"])
    (command,) = manifest["features"]["slash_commands"]
    assert set(command) <= {"command", "description", "should_escape", "url", "usage_hint"}
    assert command["command"] == "/newsbot" and command["description"]
    assert command["url"] == "https://YOUR-HOST/slack/events" and command["usage_hint"]
    assert {"chat:write", "commands"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"] == "https://YOUR-HOST/slack/events"
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "member_joined_channel", "channel_unarchive", "group_unarchive", "app_home_opened"}
    assert settings["interactivity"] == {"is_enabled": True,  # the buttons under alerts
                                         "request_url": "https://YOUR-HOST/slack/events"}
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert {"channels:read", "groups:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert settings["socket_mode_enabled"] is False
    assert set(settings) <= {"allowed_ip_address_ranges", "event_subscriptions", "interactivity",
                             "org_deploy_enabled", "socket_mode_enabled",
                             "token_rotation_enabled"}
