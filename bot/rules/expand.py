"""A rule term in every script and language: its Traditional form, English renderings and the
Chinese words of the same sense, from CC-CEDICT (`bot.cedict`).

A bare term that is no entity of the catalog (`演习`, `袭击`, `attack`) stands for:

- itself (matching folds Traditional to Simplified, so `演習` is `演习` already);
- for a Chinese term, the English renderings of its first senses (`演习` -> drill, exercise,
  maneuver), nouns with their plural, verbs with their -s, -ed and -ing forms;
- the Chinese words of the same sense: each gives one of the term's renderings first, the term
  gives that word's first rendering among its own, and the two share a character (`演习` ->
  演练 "to drill", not 练习 "to practice", and never 钻头 "drill bit");
- the Chinese words for a kind of what the term names, which reports use for it: a word's
  first rendering is a noun phrase ending with one of the term's nouns and the two share a
  character (`选举` "election" -> 大选 "general election", 初选 "primary election"; `会谈` ->
  和谈 "peace talk"), not a verb (胜选 "to win an election"), a word holding the term, nor
  one general Chinese rarely uses (寒武爆发 "Cambrian explosion" for 爆炸);
- for an English term, the Chinese words whose first senses render it (`attack` -> 攻击, 袭击);
- for a place, the forms reports use beside its name (`bot.rules.names`: 印军, 印方, 印巴,
  Indian) and its capital, which reports name for its government (曼谷, Bangkok).

`rules/senses.yaml` adds what the dictionary lacks, as data: more `forms` of a term (`演习` ->
军演, 演训, war games; `袭击` -> 遇袭, 击中, `向...发射`) and, for a word, what marks its other
`senses` (`drill` in "fire drill", "drill bits"; `袭击` in 鲨鱼袭击): a report that says one of
them uses the word in that sense throughout, so the term does not count there (`Expansion.
others`; the engine reads it).

The catalog stays the trusted core: a term that is an entity's alias is that entity, never
expanded. A quoted term (`"演习"`) is matched as written; `-"演练"` leaves out the reports that
say a variant; `drop` lists the dictionary's words for a term that are another sense (`袭击` is
not 抨击, an attack in words). `Expansion.shown` is how `/rule add` and `newsbot rules test`
show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from string import capwords

import yaml

from bot import cedict
from bot.errors import ConfigError
from bot.rules import names
from bot.rules.english import PHRASE_RE, Phrase, act, light_object, phrase, singular, verbs
from bot.text import fold_key as key_of
from bot.text import is_cjk

SENSES_FILE = "senses.yaml"

MAX_SENSES = 2
MAX_CHINESE = 6
MAX_ENGLISH = 6
MAX_KINDS = 4  # Chinese words for kinds of the term's noun (大选 for 选举), after the same sense
KIND_FLOOR = 10 ** (2.5 - 9)  # a kind general Chinese uses (wordfreq's Zipf 2.5): not 寒武爆发
_LINKS = frozenset({"a", "an", "the", "of", "to", "for", "in", "on", "with", "and", "or"})
_NOTE_RE = re.compile(r"\([^()]*\)|\[[^\]]*\]")
_HANZI_RE = re.compile(r"[^\x00-\x7f]+(?:\|[^\x00-\x7f]+)?")
_SKIP = ("cl:", "variant of", "old variant", "see ", "see also", "taiwan pr", "also pr",
         "also written", "surname ", "used in", "erhua variant", "japanese variant",
         "korean variant", "classifier for", "abbr. for", "radical")


@dataclass(frozen=True, slots=True)
class Expansion:
    """What a bare term stands for beside itself."""

    term: str
    traditional: tuple[str, ...] = ()  # shown only: matching folds scripts
    chinese: tuple[str, ...] = ()
    english: tuple[Phrase, ...] = ()
    forms: tuple[str, ...] = ()  # from rules/senses.yaml
    acts: bool = False  # something done (`to attack`, a verb) or that happens somewhere (地震)
    name: bool = False  # the dictionary gives it as a proper name (以色列 Israel, 哈马斯 Hamas)
    guards: tuple[str, ...] = ()  # longer words its forms sit in meaning something else

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every form that counts: the term, the Chinese words, each rendering inflected,
        the forms of `rules/senses.yaml`."""
        forms = (form for phrase in self.english for form in phrase.forms())
        return tuple(dict.fromkeys((self.term, *self.chinese, *forms, *self.forms)))

    @property
    def exclude(self) -> tuple[str, ...]:
        """Longer words that contain one of the aliases and mean something else (攻击型 is
        a kind of weapon, 轰炸机 a bomber): an alias inside one does not count."""
        table = shipped_senses().exclude
        return tuple(dict.fromkeys((*(w for a in self.aliases for w in table.get(key_of(a), ())),
                                    *self.guards)))

    @property
    def role(self) -> str:
        """Whom a rule naming someone beside the term means (`bot.rules.entities.ROLES`): a
        side of it for the `parties` of `rules/senses.yaml` (a ceasefire), where it happens
        for its `events` (a quake), else its doer."""
        senses = shipped_senses()
        return "party" if self.term in senses.parties else "place" \
            if self.term in senses.events else "agent"

    @property
    def others(self) -> tuple[str, ...]:
        """What marks another sense of one of the aliases (`fire drill` for drill)."""
        table = shipped_senses().others
        return tuple(dict.fromkeys(m for a in self.aliases for m in table.get(key_of(a), ())))

    def shown(self) -> str:
        """`演习 -> 演習 · 演练 · drill(s) · exercise(s)` for replies."""
        parts = [*self.traditional, *self.chinese, *(p.shown() for p in self.english),
                 *self.forms]
        shown = f"{self.term} -> {' · '.join(parts)}" if parts else self.term
        others = self.others
        return f"{shown} (not: {' · '.join(others[:4])}{' ...' if others[4:] else ''})" \
            if others else shown


@dataclass(frozen=True, slots=True)
class Senses:
    """`rules/senses.yaml`: more forms of a term; what marks another sense of a word (keyed
    by each inflection of it, folded)."""

    forms: dict[str, tuple[str, ...]]
    others: dict[str, tuple[str, ...]]
    drop: dict[str, tuple[str, ...]]
    parties: frozenset[str] = frozenset()  # terms whose rule names a side, not a doer
    exclude: dict[str, tuple[str, ...]] = field(default_factory=dict)  # word -> longer words
    events: frozenset[str] = frozenset()  # terms that happen somewhere: bound to the place
    reactions: tuple[str, ...] = ()  # said right before an act: someone reacts to it (谴责)


def load_senses(path: Path) -> Senses:
    """The forms and senses of one file; ConfigError naming the file for a bad entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the senses: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"forms", "senses", "drop", "parties",
                                                  "exclude", "events", "reactions"}:
        raise ConfigError(f"{path}: expected a mapping with `forms`, `senses`, `drop`, "
                          "`parties`, `exclude`, `events` and `reactions`")
    parties, events = _words_of(data, "parties", path), _words_of(data, "events", path)
    forms = _lists(data.get("forms"), path, "forms")
    others: dict[str, tuple[str, ...]] = {}
    for word, markers in _lists(data.get("senses"), path, "senses").items():
        inflected = Phrase(word, verb=True).forms() if PHRASE_RE.match(word) else (word,)
        for form in inflected:
            others[form] = tuple(dict.fromkeys((*others.get(form, ()), *markers)))
    drop = {w: tuple(map(key_of, d)) for w, d in _lists(data.get("drop"), path, "drop").items()}
    return Senses(forms, others, drop, frozenset(map(key_of, parties)),
                  _lists(data.get("exclude"), path, "exclude"), frozenset(map(key_of, events)),
                  tuple(_words_of(data, "reactions", path)))


def _words_of(data: dict[str, object], section: str, path: Path) -> list[str]:
    """A `section: [words]` list; ConfigError for anything else."""
    words = data.get(section) or []
    if not (isinstance(words, list) and all(isinstance(w, str) and w.strip() for w in words)):
        raise ConfigError(f"{path}: `{section}` must be a list of words")
    return words


def _lists(node: object, path: Path, section: str) -> dict[str, tuple[str, ...]]:
    """A `word: [words]` section, folded keys; ConfigError for anything else."""
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise ConfigError(f"{path}: `{section}` must map words to lists of words")
    out: dict[str, tuple[str, ...]] = {}
    for word, items in node.items():
        if not (isinstance(items, list) and items and all(
                isinstance(i, str) and i.strip() for i in items)):
            raise ConfigError(f"{path}: {section}: {word!r} needs a list of words")
        out[key_of(str(word))] = tuple(i.strip() for i in items)
    return out


@cache
def shipped_senses() -> Senses:
    """The shipped `rules/senses.yaml`, or nothing when it is missing."""
    from bot.rules.entities import shipped_path

    path = shipped_path().with_name(SENSES_FILE)
    return load_senses(path) if path.is_file() else Senses({}, {}, {})


@dataclass(frozen=True, slots=True)
class _Word:
    traditional: str
    phrases: tuple[Phrase, ...]
    proper: bool
    verb: bool = False  # some sense is a verb (`to drill`, "(verb and noun) drill")


def expand(term: str) -> Expansion | None:
    """The expansion of a bare term, or None when the dictionary says nothing more."""
    folded = key_of(term)
    if not folded:
        return None
    found = _chinese(folded) if is_cjk(folded) else _english(folded)
    senses = shipped_senses()
    dropped = senses.drop.get(folded, ())
    if found is not None and dropped:
        found = replace(found, chinese=tuple(w for w in found.chinese if w not in dropped),
                        english=tuple(p for p in found.english if p.text not in dropped))
    forms = tuple(f for f in senses.forms.get(folded, ())
                  if found is None or key_of(f) not in map(key_of, found.aliases))
    if forms:
        found = replace(found or Expansion(folded), forms=forms)
    if folded in senses.events:  # bound to where it happens, even with nothing to add
        return replace(found or Expansion(folded), acts=True)
    if found is None or not (found.chinese or found.english or found.traditional
                             or found.forms):
        return None
    return found


def _chinese(term: str) -> Expansion | None:
    """A Chinese term's renderings and the Chinese words of its sense."""
    word = _words().get(term)
    if word is None:
        return None
    traditional = (word.traditional,) if word.traditional != term else ()
    phrases = word.phrases[:MAX_ENGLISH]
    if word.proper:  # a place also in the forms reports use beside its name (印军, Indian)
        english = phrases[0].text if phrases else ""
        forms = names.chinese_forms(term, english)
        people = tuple(Phrase(capwords(p)) for p in names.english_forms(term, english))
        seat = names.capital(english)  # its government by its capital (曼谷, Bangkok)
        return Expansion(term, traditional, (*forms, *seat.chinese),
                         (*phrases[:1], *people, *(Phrase(n, name=True) for n in seat.english)),
                         name=True, guards=(*names.guards(forms), *seat.guards))
    same = _commonest(_same_sense(term, word))[:MAX_CHINESE]
    kinds = [w for w in _commonest(_kinds_of(term, word)) if w not in same][:MAX_KINDS]
    return Expansion(term, traditional, (*same, *kinds), phrases, acts=word.verb)


def _same_sense(term: str, word: _Word) -> list[str]:
    """The Chinese words of `term`'s sense (see the module docstring)."""
    mine = {p.text for p in word.phrases}
    first = word.phrases[0].text
    table, out = _words(), []
    for rendering in word.phrases:
        for other in _by_phrase().get(rendering.text, ()):
            candidate = table[other]
            if other != term and set(term) & set(other) \
                    and candidate.phrases[0].text in mine \
                    and first in {p.text for p in candidate.phrases if not p.act}:
                out.append(other)
    return out


def _kinds_of(term: str, word: _Word) -> list[str]:
    """The Chinese words for a kind of the term's noun (see the module docstring): 大选
    "general election" for 选举 "election", 和谈 "peace talk" for 会谈 "talk"."""
    table, out = _words(), []
    for rendering in word.phrases:
        if rendering.verb or rendering.act:
            continue
        for other in _by_head().get(rendering.text, ()):
            if term not in other and set(term) & set(other) and not table[other].verb \
                    and _frequencies().get(other, 0.0) >= KIND_FLOOR:
                out.append(other)
    return out


def _english(term: str) -> Expansion | None:
    """An English term's Chinese renderings (the words whose first senses give it)."""
    words = [*_by_phrase().get(term, ()), *_by_phrase().get(singular(term), ())]
    acts = any(p.verb and p.text == term for w in words for p in _words()[w].phrases)
    if (noun := light_object(term)) is not None and (doing := _by_act().get(noun, ())):
        words, acts = [*words, *doing], True  # `make an air raid` -> 空袭
    return Expansion(term, (), tuple(_commonest(words)[:MAX_CHINESE]), (), acts=acts)


def phrases(senses: tuple[str, ...], *, proper: bool,
            acts: frozenset[str] = frozenset()) -> tuple[Phrase, ...]:
    """The English phrases of the first senses: notes and references removed, articles
    dropped, nouns in the singular, one to three words each; a proper noun its name only; a
    light verb with an act (a word of `acts`, the dictionary's verbs) the act
    (`bot.rules.english`: "to make an air raid" -> air raid)."""
    out: dict[str, Phrase] = {}
    named: list[Phrase] = []  # the acts of light verbs, after the plain renderings
    kept = 0
    for sense in senses:
        low = sense.strip().lower()
        if not low or low.startswith(_SKIP):
            continue
        text = re.split(r"[(,;]", sense, maxsplit=1)[0] if proper else sense
        text = _HANZI_RE.sub(" ", _NOTE_RE.sub(" ", text)).lower()
        for part in re.split(r"[;,]", text):
            if not proper and (done := act(part, acts)) is not None:
                named.append(done)
            elif (found := phrase(part, proper=proper)) is not None:
                known = out.setdefault(found.text, found)
                if found.verb and not known.verb:  # a noun and a verb: both forms count
                    out[found.text] = Phrase(found.text, verb=True)
        kept += 1
        if proper or kept >= MAX_SENSES:
            break
    for sense in senses:  # a rendering the dictionary also gives as a verb further on
        words = sense.lower().split()
        if len(words) == 2 and words[0] == "to" and words[1] in out:
            out[words[1]] = Phrase(words[1], verb=True)
    for done in named:
        out.setdefault(done.text, done)
    return tuple(out.values())


@cache
def _words() -> dict[str, _Word]:
    """Simplified word -> its Traditional form and renderings (the first entry of a word; a
    later entry of another Traditional word that Simplified writes alike adds its renderings:
    台风 is 臺風 "stage presence" and 颱風 "typhoon", and `senses` tells them apart)."""
    table: dict[str, _Word] = {}
    entries = tuple(cedict.entries())
    acts = verbs(entry.senses for entry in entries)
    merged: set[tuple[str, str]] = set()
    for entry in entries:
        known = table.get(entry.simplified)
        if known is not None and (known.traditional == entry.traditional or known.proper
                                  or entry.proper or (entry.simplified, entry.traditional)
                                  in merged):
            continue
        found = phrases(entry.senses, proper=entry.proper, acts=acts)
        if not found:
            continue
        if known is None:
            verb = any(p.verb for p in found) or any(
                s.startswith("to ") or "(verb" in s for s in entry.senses[:MAX_SENSES])
            table[entry.simplified] = _Word(entry.traditional, found, entry.proper, verb)
        else:  # whether it acts stays the first's (下面 "below" is no verb for 下麵's boiling)
            merged.add((entry.simplified, entry.traditional))
            said = {p.text for p in known.phrases}
            table[entry.simplified] = replace(
                known, phrases=(*known.phrases, *(p for p in found if p.text not in said)))
    return table


@cache
def _by_phrase() -> dict[str, tuple[str, ...]]:
    """English phrase -> the Chinese words that give it among their first renderings."""
    index: dict[str, list[str]] = {}
    for word, entry in _words().items():
        if not entry.proper:
            for rendering in entry.phrases:
                if not rendering.act:  # the word's own (bot.rules.english)
                    index.setdefault(rendering.text, []).append(word)
    return {p: tuple(words) for p, words in index.items()}


@cache
def _by_head() -> dict[str, tuple[str, ...]]:
    """English noun -> the Chinese words whose first rendering is a kind of it: a noun phrase
    of two or more words ending with it, no article or preposition (`general election`; not
    `win an election`, `degree of earthquake`); not a name, no verb."""
    index: dict[str, list[str]] = {}
    for word, entry in _words().items():
        first = entry.phrases[0] if entry.phrases else None
        if entry.proper or entry.verb or first is None or first.verb or first.act:
            continue
        words = first.text.split()
        if len(words) > 1 and not _LINKS & set(words):
            index.setdefault(words[-1], []).append(word)
    return {noun: tuple(words) for noun, words in index.items()}


@cache
def _by_act() -> dict[str, tuple[str, ...]]:
    """The act of a light-verb sense -> the Chinese words whose sense it is."""
    index: dict[str, list[str]] = {}
    for word, entry in _words().items():
        for rendering in entry.phrases:
            if rendering.act:
                index.setdefault(rendering.text, []).append(word)
    return {p: tuple(words) for p, words in index.items()}


def _commonest(words: list[str]) -> list[str]:
    """Distinct `words`, commonest in general Chinese first (unlisted words last)."""
    freq = _frequencies()
    return sorted(dict.fromkeys(words), key=lambda w: -freq.get(w, 0.0))


@cache
def _frequencies() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return dict(get_frequency_dict("zh", wordlist="small"))
