"""Hostile input for `sources test`: a sample of feedparser's own test corpus (ill-formed XML,
encodings, entities, RSS/Atom/RDF/CDF variants; see tests/fixtures/feedparser_corpus/README.md)
and a few generated attacks (entity bombs, also behind a 70 KB comment or in UTF-16, deep nesting).
Every file ends cleanly: items, or one readable line; never a traceback.

Files go through services.sources.test_source in-process (what `bot.py sources test` calls), and
a handful through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import App
from services import sources
from services.errors import ServiceError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "fixtures" / "feedparser_corpus"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("LICENSE",
                                                                            "README.md"))
BOMB_ENTITIES = '<!ENTITY a "aaaaaaaaaa">' + "".join(
    f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def _bomb(padding: str = "", encoding: str = "utf-8") -> bytes:
    text = (f"<?xml version='1.0' encoding='{encoding}'?>\n{padding}"
            f"<!DOCTYPE rss [{BOMB_ENTITIES}]>\n<rss version='2.0'><channel><item>"
            "<title>&i;</title><link>https://bao.example.vn/1</link></item></channel></rss>")
    return text.encode(encoding)


GENERATED = {
    "entity_bomb.xml": _bomb(),
    "entity_bomb_after_70kb_comment.xml": _bomb("<!-- " + "đệm " * 17_500 + " -->\n"),
    "entity_bomb_utf16.xml": _bomb("<!-- c -->\n", encoding="utf-16"),
    "external_entity.xml": (b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY x SYSTEM"
                            b" 'file:///etc/passwd'>]><rss version='2.0'><channel><item>"
                            b"<title>&x;</title><link>https://bao.example.vn/1</link></item>"
                            b"</channel></rss>"),
    "nested_20000.xml": (b"<rss version='2.0'><channel><item><title>Tin</title>"
                         b"<link>https://bao.example.vn/1</link>" + b"<x>" * 20_000
                         + b"</x>" * 20_000 + b"</item></channel></rss>"),
    "empty.xml": b"",
    "nul_bytes.xml": b"\0" * 4096,
}


def test_the_sample_is_there_with_its_licence() -> None:
    assert 150 <= len(FILES) <= 300
    assert "Kurt McKee" in (CORPUS / "LICENSE").read_text()
    groups = {p.relative_to(CORPUS).parts[0] for p in FILES}
    assert {"illformed", "encoding", "entities", "wellformed"} <= groups


def _clean(outcome: sources.SourceTest | ServiceError) -> None:
    if isinstance(outcome, ServiceError):
        assert outcome.code == "source_test_failed", outcome.code
        line = outcome.reason
        assert line.strip() and "\n" not in line and "Traceback" not in line, line
        assert len(line) < 400, line


async def _outcome(app: App, path: Path) -> sources.SourceTest | ServiceError:
    try:
        return await sources.test_source(app, str(path))
    except ServiceError as exc:
        return exc


async def test_every_corpus_file_ends_cleanly(sqlite_app: App) -> None:
    read = 0
    for path in FILES:
        outcome = await _outcome(sqlite_app, path)
        _clean(outcome)
        read += not isinstance(outcome, ServiceError)
    assert read > len(FILES) // 2  # most of the corpus is well-formed


@pytest.mark.parametrize("name", sorted(GENERATED))
async def test_generated_attacks_end_cleanly(sqlite_app: App, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(GENERATED[name])
    outcome = await _outcome(sqlite_app, path)
    _clean(outcome)
    if name.startswith(("entity_bomb", "external_entity")):
        assert isinstance(outcome, ServiceError)
        assert outcome.reason == ("refused: the feed declares XML entities in a DOCTYPE"
                                  " (entity-expansion risk)")


@pytest.mark.slow
@pytest.mark.parametrize("relative", [
    "illformed/rss_incomplete_cdata.xml", "illformed/chardet/big5.xml",
    "entities/hex_entity_x_lowercase.xml", "wellformed/rdf/rss090_item_title.xml",
    "wellformed/sanitize/large_atom_feed_that_needs_css_sanitisation.xml",
])
def test_the_cli_prints_items_or_one_line(tmp_path: Path, sqlite_url: str, relative: str) -> None:
    path = CORPUS / relative
    assert path.is_file(), relative
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env.update(DATABASE_URL=sqlite_url, LOG_FILE=str(tmp_path / "loa.log"), LOG_LEVEL="WARNING")
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "sources", "test", str(path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stdout + done.stderr
    if done.returncode == 0:
        assert done.stdout.startswith(f"{path}: ") and "nothing stored" in done.stdout
    else:
        assert done.returncode == 2
        assert done.stderr.startswith("loa: ") and done.stderr.count("\n") == 1, done.stderr
