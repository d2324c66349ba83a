"""Every user-visible string of command replies, in English and Chinese.

`MESSAGES` maps a key to one `str.format` template per language; both languages carry every key
with the same fields (a test checks it). `{count:story|stories}` is the English word for the
number (Chinese needs no such form: a measure word, `{count} 条`). `text(lang, key, **fields)`
formats one, falling back to English for an unknown language.
"""

from __future__ import annotations

from string import Formatter

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    # --- help and usage lines (one per command, reused by /help) ----------------------------
    "help.intro": {
        "en": "newsbot watches news feeds and alerts this chat when a story matching its rules "
              "or topics breaks: one alert per story, updated as more outlets report it.\n"
              "Commands:",
        "zh": "newsbot 监测新闻源，当符合本聊天规则或话题的新闻出现时发出提醒："
              "每个新闻事件只提醒一次，有更多媒体报道时更新该提醒。\n命令：",
    },
    "usage.help": {"en": "/help — this list", "zh": "/help — 本列表"},
    "usage.rule_add": {
        "en": "/rule add <expression> — add a rule, e.g. /rule add 朝鲜 + 派兵",
        "zh": "/rule add <表达式> — 添加规则，例如 /rule add 朝鲜 + 派兵",
    },
    "usage.rule_list": {"en": "/rule list (or /rules) — this chat's rules",
                        "zh": "/rule list（或 /rules）— 本聊天的规则"},
    "usage.rule_del": {"en": "/rule del <id> — delete a rule", "zh": "/rule del <编号> — 删除规则"},
    "usage.rule_test": {
        "en": "/rule test <expression> — try a rule on stored stories without saving it",
        "zh": "/rule test <表达式> — 用已存储的新闻测试规则（不保存）",
    },
    "usage.topics": {"en": "/topics — shared topics", "zh": "/topics — 公共话题"},
    "usage.subscribe": {"en": "/subscribe <topic> — follow a shared topic",
                        "zh": "/subscribe <话题> — 订阅公共话题"},
    "usage.unsubscribe": {"en": "/unsubscribe <topic> — stop following a topic",
                          "zh": "/unsubscribe <话题> — 取消订阅话题"},
    "usage.digest_at": {
        "en": "/digest at <HH:MM> [<time zone>] — daily digest, e.g. /digest at 07:30 "
              "Asia/Shanghai",
        "zh": "/digest at <HH:MM> [<时区>] — 每日摘要，例如 /digest at 07:30 Asia/Shanghai",
    },
    "usage.digest_off": {"en": "/digest off — no daily digest", "zh": "/digest off — 关闭每日摘要"},
    "usage.digest_now": {"en": "/digest now — the last 24 hours' digest, now",
                         "zh": "/digest now — 立即查看过去 24 小时的摘要"},
    "usage.mute": {"en": "/mute <duration> — pause alerts: 30m, 2h, 1d (at most {max_days}d)",
                   "zh": "/mute <时长> — 暂停提醒：30m、2h、1d（最多 {max_days}d）"},
    "usage.unmute": {"en": "/unmute — resume alerts", "zh": "/unmute — 恢复提醒"},
    "usage.mute_mode": {
        "en": "/mute mode batch|digest — held alerts arrive as one message when the mute ends "
              "(batch) or in the next digest",
        "zh": "/mute mode batch|digest — 静音结束时，暂存的提醒合并为一条消息发送（batch）"
              "或放入下一期摘要（digest）"},
    "usage.quiet": {
        "en": "/quiet <HH:MM>-<HH:MM> | off — hold alerts every day between these times "
              "(this chat's time zone)",
        "zh": "/quiet <HH:MM>-<HH:MM> | off — 每天在此时段内暂存提醒（本聊天的时区）"},
    "usage.tz": {"en": "/tz <time zone> — time zone for alert times and quiet hours, "
                       "e.g. /tz Asia/Taipei",
                 "zh": "/tz <时区> — 提醒时间与免打扰时段所用的时区，例如 /tz Asia/Taipei"},
    "usage.feeds": {"en": "/feeds — the feeds polled (bot admins)",
                    "zh": "/feeds — 正在抓取的新闻源（仅机器人管理员）"},
    "usage.feeds_add": {"en": "/feeds add <url> [<outlet>] — add an http(s) feed (bot admins)",
                        "zh": "/feeds add <网址> [<媒体名>] — 添加 http(s) 新闻源"
                              "（仅机器人管理员）"},
    "usage.feeds_del": {"en": "/feeds del <id> — remove a feed added from chat (bot admins)",
                        "zh": "/feeds del <编号> — 删除从聊天添加的新闻源（仅机器人管理员）"},
    "usage.status": {"en": "/status — feed health, this chat's rules, topics, digest and mute",
                     "zh": "/status — 新闻源状态，以及本聊天的规则、话题、摘要和静音设置"},
    "usage.lang": {"en": "/lang en|zh — reply language", "zh": "/lang en|zh — 回复语言"},
    "usage.whoami": {"en": "/whoami — your user id and this chat's id (for NEWSBOT_ADMINS)",
                     "zh": "/whoami — 你的用户 ID 与本聊天的 ID（用于 NEWSBOT_ADMINS）"},
    "usage": {"en": "Usage: {usage}", "zh": "用法：{usage}"},
    "unknown": {"en": "Unknown command /{command}. Send /help for the list of commands.",
                "zh": "未知命令 /{command}。发送 /help 查看命令列表。"},
    # --- refusals -------------------------------------------------------------------------
    "refused.manage": {
        "en": "Sorry, only this chat's administrators can change its rules, topics, digest, "
              "mute or language. Anyone can list and test: /rule list, /rule test, /topics.",
        "zh": "抱歉，只有本聊天的管理员可以更改规则、话题、摘要、静音或语言设置。"
              "任何人都可以查看和测试：/rule list、/rule test、/topics。",
    },
    "refused.admin": {
        "en": "Sorry, only the bot's administrators (NEWSBOT_ADMINS) can manage feeds.",
        "zh": "抱歉，只有机器人管理员（NEWSBOT_ADMINS）可以管理新闻源。",
    },
    # --- rules ----------------------------------------------------------------------------
    "rule.invalid": {"en": "Invalid rule at column {column}: {message}",
                     "zh": "规则无效（第 {column} 列）：{message}"},
    "rule.added": {"en": "Rule #{number} added: {rule}", "zh": "已添加规则 #{number}：{rule}"},
    "rule.window": {
        "en": "Stories in the stored window ({hours} h) it would have matched: {count}",
        "zh": "在已存储的时间窗口（{hours} 小时）内会匹配的新闻：{count} 条",
    },
    "rule.duplicate": {"en": "This chat already has that rule as #{number}.",
                       "zh": "本聊天已有相同的规则 #{number}。"},
    "rule.too_many": {"en": "This chat already has {limit} rules; delete one first.",
                      "zh": "本聊天已有 {limit} 条规则，请先删除一条。"},
    "rule.list.header": {"en": "Rules of this chat:", "zh": "本聊天的规则："},
    "rule.list.item": {"en": "#{number}  {expression}", "zh": "#{number}  {expression}"},
    "rule.list.empty": {"en": "This chat has no rules yet; add one with /rule add 朝鲜 + 派兵",
                        "zh": "本聊天还没有规则；可用 /rule add 朝鲜 + 派兵 添加"},
    "rule.deleted": {"en": "Rule #{number} deleted.", "zh": "已删除规则 #{number}。"},
    "rule.not_found": {"en": "This chat has no rule #{number}; see /rule list.",
                       "zh": "本聊天没有规则 #{number}；请查看 /rule list。"},
    "rule.test.header": {"en": "{rule} matches {count} {count:story|stories} in the stored "
                               "window ({hours} h).",
                         "zh": "{rule} 在已存储的时间窗口（{hours} 小时）内匹配 {count} 条新闻。"},
    "rule.test.item": {"en": "• {headline} — {outlets} [{terms}]",
                       "zh": "• {headline} — {outlets} [{terms}]"},
    "more": {"en": "…and {count} more", "zh": "……另有 {count} 条"},
    # --- topics ---------------------------------------------------------------------------
    "topics.header": {"en": "Shared topics (follow one with /subscribe <topic>):",
                      "zh": "公共话题（用 /subscribe <话题> 订阅）："},
    "topics.on": {"en": "✓ {name} — {description} (subscribed)",
                  "zh": "✓ {name} — {description}（已订阅）"},
    "topics.off": {"en": "• {name} — {description}", "zh": "• {name} — {description}"},
    "topics.empty": {"en": "No shared topics are configured.", "zh": "没有配置公共话题。"},
    "topic.subscribed": {"en": "Subscribed to {topic}.", "zh": "已订阅 {topic}。"},
    "topic.already": {"en": "This chat already follows {topic}.", "zh": "本聊天已订阅 {topic}。"},
    "topic.unsubscribed": {"en": "Unsubscribed from {topic}.", "zh": "已取消订阅 {topic}。"},
    "topic.not_followed": {"en": "This chat does not follow {topic}.",
                           "zh": "本聊天没有订阅 {topic}。"},
    "topic.unknown": {"en": "There is no topic {topic}. Closest: {names}",
                      "zh": "没有话题 {topic}。最接近的：{names}"},
    # --- digest ---------------------------------------------------------------------------
    "digest.set": {"en": "Daily digest at {time} ({timezone}).",
                   "zh": "每日摘要时间：{time}（{timezone}）。"},
    "digest.off": {"en": "Daily digest turned off.", "zh": "已关闭每日摘要。"},
    "digest.was_off": {"en": "The daily digest was already off.", "zh": "每日摘要本来就是关闭的。"},
    "digest.bad_time": {"en": "Invalid time {time}: use 24-hour HH:MM, e.g. 07:30.",
                        "zh": "时间 {time} 无效：请用 24 小时制 HH:MM，例如 07:30。"},
    "digest.bad_zone": {
        "en": "Unknown time zone {timezone}: use an IANA name such as Asia/Shanghai or UTC.",
        "zh": "未知时区 {timezone}：请使用 IANA 名称，例如 Asia/Shanghai 或 UTC。",
    },
    "digest.item": {"en": "{rank}. {headline} — {outlets}", "zh": "{rank}. {headline} — {outlets}"},
    "digest.empty": {"en": "No stories matched this chat's rules or topics in the last 24 hours.",
                     "zh": "过去 24 小时内没有符合本聊天规则或话题的新闻。"},
    "digest.follows_nothing": {
        "en": "This chat follows no rules or topics yet: add one with /rule add or /subscribe.",
        "zh": "本聊天还没有规则或订阅的话题：请用 /rule add 或 /subscribe 添加。",
    },
    # --- mute -----------------------------------------------------------------------------
    "mute.set": {"en": "Alerts muted until {until}.", "zh": "提醒已静音，直到 {until}。"},
    "mute.bad": {"en": "Invalid duration {duration}: use e.g. 30m, 2h or 1d (at most {max_days}d).",
                 "zh": "时长 {duration} 无效：请使用如 30m、2h 或 1d（最多 {max_days}d）。"},
    "mute.off": {"en": "Alerts unmuted.", "zh": "已恢复提醒。"},
    "mute.mode_batch": {"en": "Alerts held while muted will arrive as one message when the "
                              "mute or quiet hours end.",
                        "zh": "静音或免打扰结束时，暂存的提醒将合并为一条消息发送。"},
    "mute.mode_digest": {"en": "Alerts held while muted will go into the next digest.",
                         "zh": "暂存的提醒将放入下一期摘要。"},
    "quiet.set": {"en": "Quiet hours {start}-{end} ({timezone}): alerts are held, not lost.",
                  "zh": "免打扰时段 {start}-{end}（{timezone}）：提醒将暂存，不会丢失。"},
    "quiet.off": {"en": "Quiet hours turned off.", "zh": "已关闭免打扰时段。"},
    "tz.set": {"en": "Times in this chat are shown in {timezone}.",
               "zh": "本聊天的时间将以 {timezone} 显示。"},
    "tz.current": {"en": "This chat's time zone: {timezone}.", "zh": "本聊天的时区：{timezone}。"},
    "mute.was_off": {"en": "Alerts were not muted.", "zh": "提醒本来就没有静音。"},
    # --- feeds ----------------------------------------------------------------------------
    "feeds.header": {"en": "Feeds ({count}):", "zh": "新闻源（{count} 个）："},
    "feeds.item": {"en": "{id}  {location}{outlet} ({origin})",
                   "zh": "{id}  {location}{outlet}（{origin}）"},
    "feeds.origin.file": {"en": "feeds file", "zh": "配置文件"},
    "feeds.origin.chat": {"en": "added from chat", "zh": "从聊天添加"},
    "feeds.added": {"en": "Feed {id} added: {url}{outlet}",
                    "zh": "已添加新闻源 {id}：{url}{outlet}"},
    "feeds.off_notice": {
        "en": "Feed {id} ({location}) was switched off: {reason}. Last error: {error}\n"
              "Fix it, then run `newsbot feeds reactivate {id}` (or /feeds del and /feeds add "
              "for a feed added from chat).",
        "zh": "新闻源 {id}（{location}）已停用：{reason}。最后的错误：{error}\n"
              "修复后运行 `newsbot feeds reactivate {id}`（从聊天添加的新闻源也可先 /feeds del "
              "再 /feeds add）。",
    },
    "feeds.off_failures": {"en": "{failures} failed polls in a row",
                           "zh": "连续 {failures} 次抓取失败"},
    "feeds.off_blocked": {"en": "its host is an internal address",
                          "zh": "其主机是内部地址"},
    "feeds.exists": {"en": "That feed is already listed as {id}.",
                     "zh": "该新闻源已存在，编号 {id}。"},
    "feeds.bad_url": {"en": "Not an http(s) feed URL: {url}",
                      "zh": "不是 http(s) 新闻源网址：{url}"},
    "feeds.bad_host.empty_label": {
        "en": "Refused: {host} cannot be a feed's host: it has an empty label (two dots in a "
              "row, or a leading dot).",
        "zh": "已拒绝：{host} 不能作为新闻源的主机：其中有空标签（连续两个点，或以点开头）。"},
    "feeds.bad_host.too_long": {
        "en": "Refused: {host} cannot be a feed's host: it is longer than {limit} characters.",
        "zh": "已拒绝：{host} 不能作为新闻源的主机：长度超过 {limit} 个字符。"},
    "feeds.bad_host.bad_char": {
        "en": "Refused: {host} cannot be a feed's host: it contains {char}, which no host "
              "name may.",
        "zh": "已拒绝：{host} 不能作为新闻源的主机：含有主机名不允许的字符 {char}。"},
    "feeds.bad_host.long_label": {
        "en": "Refused: {host} cannot be a feed's host: it has a label longer than {limit} "
              "characters.",
        "zh": "已拒绝：{host} 不能作为新闻源的主机：有一个标签超过 {limit} 个字符。"},
    "feeds.bad_host.hyphen": {
        "en": "Refused: {host} cannot be a feed's host: its label {label} starts or ends with "
              "a hyphen.",
        "zh": "已拒绝：{host} 不能作为新闻源的主机：标签 {label} 以连字符开头或结尾。"},
    "feeds.bad_host.idna": {
        "en": "Refused: {host} cannot be a feed's host: it is not a valid host name "
              "({error}).",
        "zh": "已拒绝：{host} 不能作为新闻源的主机：不是有效的国际化域名（{error}）。"},
    "feeds.internal": {
        "en": "Refused: {host} is an internal address; feeds must be public http(s) URLs.",
        "zh": "已拒绝：{host} 是内部地址；新闻源必须是公开的 http(s) 网址。",
    },
    "feeds.resolves_internal": {
        "en": "Refused: {host} resolves to the internal address {address}; feeds must be "
              "public http(s) URLs.",
        "zh": "已拒绝：{host} 解析到内部地址 {address}；新闻源必须是公开的 http(s) 网址。",
    },
    "feeds.deleted": {"en": "Feed {id} removed.", "zh": "已删除新闻源 {id}。"},
    "feeds.in_file": {"en": "Feed {id} comes from the feeds file; remove it there.",
                      "zh": "新闻源 {id} 来自配置文件，请在文件中删除。"},
    "feeds.not_found": {"en": "There is no feed {id}; see /feeds.",
                        "zh": "没有新闻源 {id}；请查看 /feeds。"},
    # --- status ---------------------------------------------------------------------------
    "status.feeds": {"en": "Feeds: {count} ({ok} ok, {failing} failing); last poll {last_poll}",
                     "zh": "新闻源：{count} 个（{ok} 个正常，{failing} 个出错）；"
                           "最近抓取：{last_poll}"},
    "status.feed_ok": {"en": "  ✓ {id} {location} — polled {last_poll}{push}",
                       "zh": "  ✓ {id} {location} — 抓取于 {last_poll}{push}"},
    "status.push_active": {"en": " · pushed by its WebSub hub until {until}",
                           "zh": " · WebSub 推送至 {until}"},
    "status.push_problem": {"en": " · WebSub {state}: {error}", "zh": " · WebSub {state}：{error}"},
    "status.push_state": {"en": " · WebSub {state}", "zh": " · WebSub {state}"},
    "status.feed_error": {"en": "  ✗ {id} {location} — {errors} {errors:error|errors} in a "
                                "row: {last_error}",
                          "zh": "  ✗ {id} {location} — 连续 {errors} 次出错：{last_error}"},
    "status.feed_off": {
        "en": "  ⏸ {id} {location} — switched off ({reason}); `newsbot feeds reactivate {id}` "
              "turns it back on",
        "zh": "  ⏸ {id} {location} — 已停用（{reason}）；运行 `newsbot feeds reactivate {id}` "
              "可重新启用"},
    "status.feed_new": {"en": "  · {id} {location} — not polled yet",
                        "zh": "  · {id} {location} — 尚未抓取"},
    "status.feed_warning": {"en": " · warning: {warning}", "zh": " · 警告：{warning}"},
    "status.rules": {"en": "Rules: {rules}", "zh": "规则：{rules}"},
    "status.topics": {"en": "Topics: {topics}", "zh": "话题：{topics}"},
    "status.digest": {"en": "Digest: {digest}", "zh": "摘要：{digest}"},
    "status.mute": {"en": "Mute: {mute}", "zh": "静音：{mute}"},
    "status.until": {"en": "until {until}", "zh": "直到 {until}"},
    "status.quiet": {"en": "Quiet hours: {quiet} ({timezone}); alerts held: {held}",
                     "zh": "免打扰：{quiet}（{timezone}）；暂存提醒：{held}"},
    "word.none": {"en": "none", "zh": "无"},
    "word.off": {"en": "off", "zh": "关闭"},
    "word.never": {"en": "never", "zh": "从未"},
    # --- language -------------------------------------------------------------------------
    "whoami.ids": {"en": "You are {user}; this chat is {chat}.",
                   "zh": "你的用户 ID 是 {user}；本聊天的 ID 是 {chat}。"},
    "whoami.admin": {"en": "You are a bot admin (listed in NEWSBOT_ADMINS).",
                     "zh": "你是机器人管理员（已列入 NEWSBOT_ADMINS）。"},
    "whoami.not_admin": {
        "en": "To make yourself a bot admin, add {user} to NEWSBOT_ADMINS (comma-separated) "
              "and restart the bot.",
        "zh": "如需成为机器人管理员，请把 {user} 加入 NEWSBOT_ADMINS（以逗号分隔）并重启机器人。"},
    "paused.notice": {
        "en": "[CHAT PAUSED] newsbot can no longer post to {chat}: {reason} ({error}). New "
              "alerts are held and arrive together once the bot is back (Telegram: unblock it "
              "or add it to the group or channel again; Slack: /invite the app to the channel).",
        "zh": "[聊天已暂停] newsbot 无法再向 {chat} 发送提醒：{reason}（{error}）。新提醒会被保留，"
              "机器人重新加入后一并送达（Telegram：解除屏蔽或重新拉入群组/频道；Slack：在频道中 "
              "/invite 本应用）。"},
    "paused.reason.blocked": {"en": "the user blocked the bot", "zh": "用户屏蔽了机器人"},
    "paused.reason.kicked": {"en": "the bot was removed from the chat",
                             "zh": "机器人被移出了该聊天"},
    "paused.reason.not_member": {"en": "the bot is not a member of the chat",
                                 "zh": "机器人不是该聊天的成员"},
    "paused.reason.deactivated": {"en": "the user's account was deleted",
                                  "zh": "该用户的账号已注销"},
    "paused.reason.not_started": {"en": "the user never started the bot",
                                  "zh": "该用户尚未启动机器人"},
    "paused.reason.chat_not_found": {"en": "the chat no longer exists", "zh": "该聊天已不存在"},
    "paused.reason.no_rights": {"en": "the bot may not post in the chat",
                                "zh": "机器人无权在该聊天中发言"},
    "paused.reason.forbidden": {"en": "the platform refused the bot access to the chat",
                                "zh": "平台拒绝机器人访问该聊天"},
    "paused.reason.not_in_channel": {"en": "the app is not in the channel",
                                     "zh": "应用不在该频道中"},
    "paused.reason.channel_not_found": {
        "en": "the channel was not found (deleted, or private without the app)",
        "zh": "找不到该频道（已删除，或为未邀请应用的私有频道）"},
    "paused.reason.is_archived": {"en": "the channel was archived", "zh": "该频道已归档"},
    "status.paused_here": {
        "en": "Alerts paused (the bot cannot post here; held until it is added back): "
              "{reason}, {since}",
        "zh": "提醒已暂停（机器人无法在此发言，重新加入后送达）：{reason}，{since}"},
    "status.paused_chats": {"en": "Paused chats: {chats}", "zh": "已暂停的聊天：{chats}"},
    "button.mute": {"en": "🔕 Mute updates", "zh": "🔕 不再更新"},
    "button.why": {"en": "❓ Why", "zh": "❓ 为何提醒"},
    "button.more": {"en": "📰 Outlets", "zh": "📰 各家报道"},
    "action.unknown": {"en": "This button is not one of newsbot's.",
                       "zh": "这个按钮不属于 newsbot。"},
    "action.gone": {"en": "This story is no longer kept (stories are kept for the story "
                          "window), so there is nothing more to show.",
                    "zh": "这条新闻已不再保存（只保存时间窗口内的新闻），无法显示更多内容。"},
    "action.muted": {"en": "No more updates of “{headline}” in this chat.",
                     "zh": "本聊天将不再收到“{headline}”的更新。"},
    "action.muted_already": {"en": "Updates of “{headline}” were already muted in this chat.",
                             "zh": "本聊天已不再接收“{headline}”的更新。"},
    "action.why": {"en": "Why “{headline}” was sent here:", "zh": "为何在此提醒“{headline}”："},
    "action.why_item": {"en": "• rule {rule}: {expression} — matched {terms}",
                        "zh": "• 规则 {rule}：{expression} — 匹配 {terms}"},
    "action.why_none": {
        "en": "None of this chat's current rules or topics matches it any more.",
        "zh": "本聊天现有的规则和话题都已不再匹配它。"},
    "action.more": {"en": "“{headline}”: {count} {count:outlet|outlets}",
                    "zh": "“{headline}”：{count} 家媒体"},
    "action.more_item": {"en": "• {outlet}, {time}: {title} {url}",
                         "zh": "• {outlet}，{time}：{title} {url}"},
    "lang.set": {"en": "Replies in this chat will be in English.",
                 "zh": "本聊天此后将用中文回复。"},
    # --- alert and digest layout (bot.alerts, bot.digest) -----------------------------------
    "alert.updated": {"en": "(updated)", "zh": "（更新）"},
    "alert.outlet": {"en": "{count} outlet: ", "zh": "{count} 家媒体："},
    "alert.outlets": {"en": "{count} outlets: ", "zh": "{count} 家媒体："},
    "alert.matched": {"en": "Matched: {terms}", "zh": "匹配：{terms}"},
    "alert.first_reported": {"en": "First reported {time}", "zh": "首次报道 {time}"},
    "alert.kind": {"en": "Alert", "zh": "提醒"},
    "alert.kind_update": {"en": "Update", "zh": "更新"},
    "alert.more": {"en": "+{count} more", "zh": "另有 {count} 家"},
    "digest.title": {"en": "Daily digest, {date}: {count} {count:story|stories}",
                     "zh": "每日摘要（{date}）：{count} 条新闻"},
    "digest.part": {"en": "(part {part} of {parts})", "zh": "（第 {part}/{parts} 部分）"},
    "held.title": {"en": "While this chat was muted: {count} {count:story|stories}",
                   "zh": "静音期间的新闻：{count} 条"},
    "burst.title": {"en": "{count} new {count:story|stories}", "zh": "{count} 条新报道"},
}


class _Formatter(Formatter):
    """`str.format`, and `{count:story|stories}`: the word for one, or for any other number."""

    def format_field(self, value: object, format_spec: str) -> str:
        if "|" in format_spec:  # (a count read from the store may be a string, or "?")
            one, _, other = format_spec.partition("|")
            return one if str(value) == "1" else other
        return str(super().format_field(value, format_spec))


_FORMATTER = _Formatter()


def text(lang: str, key: str, **fields: object) -> str:
    """The message `key` in `lang` (English if `lang` is unknown), formatted with `fields`."""
    templates = MESSAGES[key]
    return str(_FORMATTER.format(templates.get(lang, templates[DEFAULT_LANGUAGE]), **fields))


def fields_of(template: str) -> set[str]:
    """The `str.format` field names a template uses."""
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def paused_reason(lang: str, reason: str) -> str:
    """Why a chat is paused, in words (`blocked` -> "the user blocked the bot"); the code
    itself for a reason without words."""
    key = f"paused.reason.{reason}"
    return text(lang, key) if key in MESSAGES else reason
