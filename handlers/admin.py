"""Admin commands: sources, roles, statistics, broadcasts, OPML. The router has already checked
the role and written the attempt to the audit log; the services record what each action did."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from catalog import province_name, topic_name
from handlers import args, confirm
from handlers.context import Ctx
from handlers.describe import provinces_text, refusal_text
from handlers.types import Result
from model.channel import OutMessage
from render.markup import Html, escape
from services import admin, demo, limits, sources, users
from services.sources import SourceTest

TESTFEED_SHOWN = 10
IMPORT_SKIPS_SHOWN = 20
_URL = re.compile(r"https?://\S+", re.I)


def _time(ctx: Ctx, moment: datetime | None) -> str:
    return moment.astimezone(ctx.app.settings.tz).strftime("%H:%M %d/%m") if moment else "–"


async def addfeed(ctx: Ctx, text: str) -> Result:
    url, _, rest = text.strip().partition(" ")
    if not _URL.fullmatch(url):
        return ctx.usage("addfeed")
    province, name = args.leading_province(rest)
    src = await sources.add_source(ctx.app, url, province=province, name=name or None,
                                   actor=ctx.actor)
    return ctx.reply(ctx.t("feed_added", id=src.id, name=src.name or src.url,
                           province=province_name(src.province) if src.province else "–"))


async def feeds(ctx: Ctx, text: str) -> Result:
    found = await sources.list_sources(ctx.app)
    if not found:
        return ctx.reply(ctx.t("feeds_empty"))
    blocks = [ctx.t("feeds_head", count=len(found))]
    for src in found:
        state = ctx.t(f"feed_state_{src.state}")
        line = ctx.t("feed_line", id=src.id, name=src.name or src.url, url=src.url, state=state,
                     fetched=_time(ctx, src.last_fetch_at), ok=_time(ctx, src.last_success_at),
                     errors=src.error_count)
        # The source's own error, quoted as it came (an HTTP status, a parser's message); why
        # it is paused is the state and the failure count above (the CLI shows the full reason).
        if src.last_error:
            line = Html(f"{line}\n{ctx.t('feed_problem', reason=src.last_error[:300])}")
        blocks.append(line)
    return ctx.reply(*blocks)


def _feed_action(action: str, key: str) -> Callable[[Ctx, str], Awaitable[Result]]:
    async def handle(ctx: Ctx, text: str) -> Result:
        ref = text.strip()
        if not ref or " " in ref:
            return ctx.usage(action)
        await getattr(sources, f"{key}_source")(ctx.app, ref, actor=ctx.actor)
        return ctx.reply(ctx.t(f"feed_{key}d", ref=ref))
    return handle


async def testfeed(ctx: Ctx, text: str) -> Result:
    url = text.strip()
    if not _URL.fullmatch(url):
        return ctx.usage("testfeed")
    dry = await sources.test_source(ctx.app, url)
    return ctx.reply(*render_dry_run(ctx, dry))


def render_dry_run(ctx: Ctx, dry: SourceTest) -> list[str]:
    """What a source would bring, with the labels and evidence of its first items."""
    blocks: list[str] = [
        ctx.t("testfeed_head", url=dry.location, kind=ctx.t(f"source_kind_{dry.kind}"),
              count=len(dry.items))
    ]
    if dry.moved_to:
        blocks.append(ctx.t("testfeed_moved", url=dry.moved_to))
    for entry in dry.items[:TESTFEED_SHOWN]:
        labels = [province_name(p) for p in entry.provinces]
        labels += [topic_name(s, ctx.lang) for s in entry.topics]
        evidence = "; ".join(dict.fromkeys(e.resolved or e.text for e in entry.evidence))
        blocks.append(ctx.t("testfeed_entry", title=entry.title,
                            when=entry.published_local.strftime("%H:%M %d/%m/%Y"),
                            labels=", ".join(labels) or "–", evidence=evidence or "–"))
    return blocks


async def grant(ctx: Ctx, text: str) -> Result:
    ref, _, rest = text.strip().partition(" ")
    words = rest.split()
    role, size = None, 0
    for size in (2, 1):
        role = args.lookup(" ".join(words[:size]), "roles") if len(words) >= size else None
        if role:
            break
    if not ref or role is None:
        return ctx.usage("grant")
    codes = args.provinces_in(" ".join(words[size:]))
    if role == "official" and not codes:
        return ctx.usage("grant")
    channel, key = limits.person_ref(ref, ctx.msg.channel)
    change = await users.grant(ctx.app, ctx.actor, channel, key, role, codes)
    await _refresh_menu(ctx, channel, key, role)
    who = f"{channel}:{key}"  # checked by the grant: an id of the channel's shape, or seen
    done = (ctx.t("granted_official", who=who, provinces=provinces_text(change.person.provinces))
            if role == "official" else ctx.t("granted_admin", who=who))
    return ctx.reply(done, ctx.t("granted_new_to_loa", who=who) if change.new_to_loa else "")


async def revoke(ctx: Ctx, text: str) -> Result:
    ref = text.strip()
    if not ref or " " in ref:
        return ctx.usage("revoke")
    channel, key = limits.person_ref(ref, ctx.msg.channel)
    await users.revoke(ctx.app, ctx.actor, channel, key)
    await _refresh_menu(ctx, channel, key, "citizen")
    return ctx.reply(ctx.t("revoked", who=f"{channel}:{key}"))


async def _refresh_menu(ctx: Ctx, channel: str, key: str, role: str) -> None:
    """The person's command menu follows their role at once, where the platform has menus."""
    served = ctx.app.channels.get(channel)
    if served is not None:
        await served.set_role_menu(key, role)


def _counts(ctx: Ctx, kind: str, values: dict[str, int]) -> str:
    """ "quản trị viên 1, người dân 3": each state word from the catalogue (`<kind>_<state>`)."""
    return ", ".join(f"{ctx.t(f'{kind}_{key}')} {n}" for key, n in sorted(values.items())) or "0"


async def stats(ctx: Ctx, text: str) -> Result:
    s = await admin.stats(ctx.app)
    return ctx.reply(ctx.t(
        "stats", users=_counts(ctx, "role", s.users_by_role),
        chats=_counts(ctx, "channel", s.chats_by_channel), inactive=s.chats_inactive,
        subs=_counts(ctx, "mode", s.subscriptions_by_mode), paused=s.subscriptions_paused,
        items=s.items_total, items_day=s.items_last_day,
        sources=_counts(ctx, "feed_state", s.sources_by_state), failing=s.sources_failing,
        deliveries=_counts(ctx, "outbox", s.deliveries_by_state), failures=s.failures_last_day,
        tables=Html("\n".join(ctx.t("stats_table", name=size.name, mb=f"{size.mb:.1f}",
                                     rows=("~" if size.estimated else "") + str(size.rows))
                               for size in s.tables))))


async def broadcast(ctx: Ctx, text: str) -> Result:
    province, body = args.leading_province(text)
    if not body.strip():
        return ctx.usage("broadcast")
    html = Html(f"{ctx.t('broadcast_header')}\n{escape(body.strip())}")
    admin.check_broadcast(html, province)
    audience = await admin.broadcast_audience(ctx.app, province)
    where = province_name(province) if province else ctx.t("broadcast_everyone")
    return await confirm.ask(ctx, "broadcast",
                             ctx.t("broadcast_preview", count=audience, where=where), html,
                             html=str(html), province=province)


async def _import(ctx: Ctx, data: bytes) -> Result:
    done = await admin.import_opml(ctx.app, data, ctx.actor)
    blocks = [ctx.t("import_done", added=len(done.added), skipped=len(done.skipped))]
    blocks += [ctx.t("import_skipped", url=url, reason=refusal_text(ctx.lang, why))
               for url, why in done.skipped[:IMPORT_SKIPS_SHOWN]]
    return ctx.reply(*blocks)


async def import_(ctx: Ctx, text: str) -> Result:
    if ctx.msg.document:
        return await _import(ctx, ctx.msg.document[1])
    ctx.dialog["await"] = "import"
    await ctx.save_dialog()
    return ctx.reply(ctx.t("import_send_file"))


async def on_document(ctx: Ctx) -> Result:
    """A file sent without a command: an OPML import if an admin asked for one (or sent .opml)."""
    assert ctx.msg.document is not None
    awaited = ctx.dialog.pop("await", None) == "import"
    if ctx.role == "admin" and (awaited or ctx.msg.document[0].lower().endswith(".opml")):
        await ctx.save_dialog()
        return await _import(ctx, ctx.msg.document[1])
    return ctx.reply(ctx.t("document_unexpected"))


async def export(ctx: Ctx, text: str) -> Result:
    data = await admin.export_opml(ctx.app, ctx.actor)
    result = ctx.reply(ctx.t("export_done"))
    result.messages.append(OutMessage(text=ctx.t("export_caption"),
                                      document=("loa-sources.opml", data)))
    return result


async def demo_off(ctx: Ctx, text: str) -> Result:
    """`/demo off`: the demo's sources and their items go (services.demo)."""
    if text.strip().lower() not in ("off", "tat", "tắt"):
        return ctx.usage("demo")
    removed = await demo.end_demo(ctx.app, ctx.actor)
    return ctx.reply(ctx.t("demo_ended", count=removed) if removed else ctx.t("demo_not_running"))


COMMANDS = {
    "addfeed": addfeed, "feeds": feeds, "testfeed": testfeed,
    "removefeed": _feed_action("removefeed", "remove"),
    "pausefeed": _feed_action("pausefeed", "pause"),
    "resumefeed": _feed_action("resumefeed", "resume"),
    "grant": grant, "revoke": revoke, "stats": stats, "broadcast": broadcast,
    "import": import_, "export": export, "demo": demo_off,
}
