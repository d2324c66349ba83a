"""The English renderings of a dictionary entry (`bot.rules.expand`): each sense cleaned to a
plain phrase of one to three words, nouns in the singular, and the inflections a report uses.

A sense with a light verb gives the act it names: "to make an air raid" is an air raid, "to
carry out a raid" a raid, "to mount a sneak attack" a sneak attack. The verb must be one that
only carries the act (`LIGHT_VERBS`), an indefinite article must follow it (one act: not "to
make the list", "to make public", "to give back") and the noun must itself be an act, which the
dictionary tells by giving it as a verb elsewhere ("to raid", "to attack"): "to launch a
satellite" or "to give a presentation" name no act they are, and are read as they stand (kept
when the whole is three words or less: "give a hug"). An act comes after the entry's plain
renderings and is the word's own: it makes no other word a word of the same sense
(`bot.rules.expand`), since "to make a fire" or "to make a copy" may name what is made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from string import capwords

LIGHT_VERBS = ("make", "carry out", "launch", "conduct", "stage", "mount", "wage", "give",
               "deliver", "perform", "undertake")
_LIGHT_RE = re.compile(rf"^to (?:{'|'.join(LIGHT_VERBS)}) an? (?=\S)")
PHRASE_RE = re.compile(r"^[a-z][a-z' -]*[a-z]$")
_NOTE_RE = re.compile(r"\([^()]*\)|\[[^\]]*\]")
_ARTICLES = ("a ", "an ", "the ")
VAGUE = frozenset("be do have get make take go come give put set thing matter way kind sort "
                  "type part state".split())
_NOT_WORDS = frozenset({"sb", "sth", "one's", "oneself", "etc"})
_FUNCTION = frozenset("of in on at to for with by from and or".split())  # not one noun


@dataclass(frozen=True, slots=True)
class Phrase:
    """An English rendering: its words (a noun in the singular), and whether the dictionary
    gives it as a verb (`to attack`), as a name, or as the act of a light verb (`air raid`)."""

    text: str
    verb: bool = False
    name: bool = False
    act: bool = False  # the act of a light-verb sense: the word's own, no other word's

    def forms(self) -> tuple[str, ...]:
        """The phrase and its inflections: a noun's plural; a verb's -s, -ed and -ing; a verb
        with its object (`impose martial law`) as it stands (its object is no plural noun)."""
        if self.name:
            return (self.text,)
        head, _, last = self.text.rpartition(" ")
        if self.verb and head:
            return (self.text,)
        prefix = f"{head} " if head else ""
        forms = [self.text, prefix + plural(last)]
        if self.verb and not head:
            forms += [_past(last), _gerund(last)]
        return tuple(dict.fromkeys(forms))

    def shown(self) -> str:
        """`drill(s)`, `arms sale(s)`, `box(es)`, `customs duty/duties`, `Yemen`, `impose
        martial law`: the plural as matching writes it (`plural`)."""
        if self.name:
            return capwords(self.text)  # Sana'a, Worker's: no capital after '
        if self.verb and " " in self.text:
            return self.text
        last = self.text.rpartition(" ")[2]
        more = plural(last)
        return self.text if more == last else f"{self.text}({more[len(last):]})" \
            if more.startswith(last) else f"{self.text}/{more}"


def verbs(senses: Iterable[tuple[str, ...]]) -> frozenset[str]:
    """The English words the dictionary gives as verbs: a sense (or a part of one between
    commas and semicolons, notes removed) that is `to` and one word."""
    out: set[str] = set()
    for entry in senses:
        for sense in entry:
            if "to " not in sense:
                continue
            for part in re.split(r"[;,]", _NOTE_RE.sub(" ", sense.lower())):
                words = part.split()
                if len(words) == 2 and words[0] == "to":
                    out.add(words[1])
    return frozenset(out)


def act(part: str, acts: frozenset[str]) -> Phrase | None:
    """The act a light-verb sense names (`to make an air raid` -> air raid), a noun of one to
    three words whose last is one of `acts` (the dictionary's verbs); None for any other
    sense (see the module docstring)."""
    found = light_object(part)
    if found is None or found.rpartition(" ")[2] not in acts:
        return None
    return Phrase(found, act=True)


def light_object(part: str) -> str | None:
    """The noun after a light verb and an indefinite article (`to make an air raid`, or
    `make an air raid` as an English rule term says it), cleaned as a rendering; None when
    the words are no light verb and one noun."""
    part = " ".join(part.split())
    light = _LIGHT_RE.match(part if part.startswith("to ") else f"to {part}")
    if light is None:
        return None
    rest = (part if part.startswith("to ") else f"to {part}")[light.end():]
    found = None if _FUNCTION & set(rest.split()) else _plain(rest, verb=False, proper=False)
    return None if found is None else found.text


def phrase(part: str, *, proper: bool) -> Phrase | None:
    """One cleaned rendering, or None when it is not a plain phrase of one to three words."""
    words = part.split()
    verb = bool(words) and words[0] == "to"
    return _plain(" ".join(words[1:] if verb else words), verb=verb, proper=proper)


def _plain(text: str, *, verb: bool, proper: bool) -> Phrase | None:
    """`text` without its article, a noun's last word in the singular; None unless it is a
    plain phrase of one to three words."""
    for article in _ARTICLES:
        text = text.removeprefix(article)
    if not (PHRASE_RE.match(text) and len(text.split()) <= 3 and len(text) > 2) \
            or text in VAGUE or _NOT_WORDS & set(text.split()):
        return None
    if not proper and not verb:
        head, _, last = text.rpartition(" ")
        text = (f"{head} " if head else "") + singular(last)
    return Phrase(text, verb=verb, name=proper)


def plural(word: str) -> str:
    if word.endswith("ese") and not word.endswith("eese"):  # the Sudanese (not cheese)
        return word
    if word.endswith(("s", "sh", "ch", "x", "z")):
        return word + "es"
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith(("ss", "us", "is")) else word


def _doubled(word: str) -> str:
    """`ship` -> `shipp`: a short word ending consonant-vowel-consonant doubles its last."""
    if 3 <= len(word) <= 4 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" \
            and word[-3] not in "aeiou":
        return word + word[-1]
    return word


def _past(word: str) -> str:
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "o", "u"):
        return word[:-1] + "ied"
    return _doubled(word) + "ed"


def _gerund(word: str) -> str:
    if word.endswith("e") and not word.endswith("ee"):
        return word[:-1] + "ing"
    return _doubled(word) + "ing"
