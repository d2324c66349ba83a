"""Matching 10,000 rules against one ~5 KB article: the engine (one automaton, triggered boolean
programs) against a baseline that evaluates every rule separately with plain substring tests.

    /work/venv/bin/python bench/rules.py [--rules 10000] [--repeat 200] [--seed 7]

The rules are generated (fixed seed) from a realistic mix: CJK words cut (rjieba) from the
sample articles (so the article is on the rules' main topic) plus made-up CJK words, English
words and names, shipped @entities and their aliases as bare terms, quoted phrases; shapes
`A + B`, `A B C`, `A | B`, `(A | B) C`, `A B -C`, `A NEAR/n B`, `title:A B`, `A B source:X`;
one rule in twenty also carries `outlets>=2` or `history:any`. Bare terms the catalog does not
know expand across scripts and languages (bot.rules.expand), as they do in service.
The article is seeds 001 and 002 plus an English paragraph, cut to 5,000 characters. Both
sides fold the article on every run; the baseline expands entities to their aliases and tests
each with `in` (NEAR as plain AND). Prints the median per article for both, their ratio, and
compile times (cold, and one rule added to a warm set). `match()` includes checking whether
the article is about the past (bot.rules.history), once per article that matched some rule;
its own cost is printed beside. `match()` runs in the C core
(bot.rules._cmatch) when it is built; the same run also times the engine's pure-Python path
(`RuleSet(native=False)`, what runs without a C compiler) and checks it returns the same.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import rjieba

from bot.errors import RuleError
from bot.feeds.seeds import read_seed_folder
from bot.models import Article, Rule
from bot.rules import grammar as g
from bot.rules.engine import RuleSet
from bot.rules.entities import Entities, load_entities, shipped_path
from bot.text import fold, is_cjk

REPO = Path(__file__).resolve().parent.parent
ARTICLE_CHARS = 5_000
ENGLISH = (
    "Seoul summoned the Russian ambassador on Monday to protest against North Korea's decision "
    "to send troops to Russia, where they are expected to join the war against Ukraine. NATO "
    "Secretary General Mark Rutte said the deployment marked a significant escalation, and the "
    "United States and the European Union warned of new sanctions. The Kremlin declined to "
    "comment on reports that thousands of soldiers had arrived in Vladivostok for training. "
    "South Korean intelligence said Pyongyang may also have supplied ballistic missiles and "
    "artillery shells, in exchange for technology that could help its satellite programme. "
)
LATIN_WORDS = (
    "ambassador protest troops deployment escalation sanctions soldiers training intelligence "
    "artillery shells satellite programme summit election parliament budget tariffs trade "
    "export ban inflation currency refugees ceasefire drone strike nuclear reactor warhead "
    "submarine carrier exercise drill border incursion hackers cyberattack espionage defector "
    "famine flood typhoon earthquake vaccine outbreak embassy consulate visa talks envoy "
    "treaty alliance referendum coup protestors crackdown detained released hostage oil gas "
    "pipeline grain harbor airport railway semiconductor chips rare earths fishing coast guard"
).split()
NAMES = ("Kim Yo Jong", "Choe Son Hui", "Sergei Shoigu", "Lavrov", "Peskov", "Blinken",
         "Wang Yi", "Han Duck-soo", "Cho Tae-yul", "Kirby", "Borrell", "Stoltenberg")


def article() -> Article:
    """Seeds 001 and 002 plus an English paragraph, cut to ARTICLE_CHARS characters."""
    seeds, _ = read_seed_folder(REPO / "seeds")
    text = "\n".join([seeds[1].text, ENGLISH, seeds[2].text, ENGLISH * 3])[:ARTICLE_CHARS]
    return Article(outlet="DW", title=seeds[1].title, text=text)


def vocabulary(rng: random.Random) -> tuple[list[str], list[str]]:
    """CJK: 400 words cut from the seeds (the article's own topic) and 6,000 made-up words of
    their characters (other topics); English words and names, and made-up variants of them."""
    seeds, _ = read_seed_folder(REPO / "seeds")
    words = sorted({w for a in seeds for w in rjieba.cut(a.text) if len(w) >= 2 and is_cjk(w)})
    chars = "".join(sorted({c for a in seeds for c in a.text if is_cjk(c)}))
    made_up = {"".join(rng.choice(chars) for _ in range(rng.randint(2, 4))) for _ in range(6000)}
    latin = LATIN_WORDS + list(NAMES) + [f"{w}{i}" for w in LATIN_WORDS for i in range(20)]
    return rng.sample(words, 400) + sorted(made_up), latin


def generate(count: int, rng: random.Random, entities: Entities) -> list[str]:
    """`count` rule expressions in a realistic mix of shapes and terms."""
    cjk, latin = vocabulary(rng)
    names = [e.name for e in entities]
    aliases = [a for e in entities for a in e.aliases if "..." not in a and " " not in a]

    def term() -> str:
        roll = rng.random()
        if roll < 0.12:
            return f"@{rng.choice(names)}"
        if roll < 0.25:
            return rng.choice(aliases)
        if roll < 0.65:
            return rng.choice(cjk)
        if roll < 0.72:
            return f'"{rng.choice(latin)} {rng.choice(latin)}"'
        return rng.choice(latin)

    shapes: list[tuple[float, Callable[[], str]]] = [
        (0.30, lambda: f"{term()} + {term()}"),
        (0.15, lambda: f"{term()} {term()} {term()}"),
        (0.10, lambda: f"{term()} | {term()}"),
        (0.15, lambda: f"({term()} | {term()}) {term()}"),
        (0.10, lambda: f"{term()} {term()} -{term()}"),
        (0.08, lambda: f"{term()} NEAR/{rng.randint(3, 30)} {term()}"),
        (0.06, lambda: f"title:{term()} {term()}"),
        (0.06, lambda: f"{term()} {term()} source:{rng.choice(['VOA', 'DW', 'BBC', 'RFI'])}"),
    ]
    weights = [w for w, _ in shapes]
    out: list[str] = []
    while len(out) < count:
        expression = rng.choices(shapes, weights)[0][1]()
        if len(out) % 20 == 3:  # (by position: the draws stay those of rules without options)
            expression += " outlets>=2"
        elif len(out) % 20 == 13:
            expression += " history:any"
        try:
            g.parse(expression, entities=entities)
        except RuleError:  # e.g. a negation-only draw; draw again
            continue
        out.append(expression)
    return out


class Baseline:
    """Every rule on its own: walk its AST with `term in text` (entities: any alias in text)."""

    def __init__(self, expressions: list[str], entities: Entities) -> None:
        self.entities = entities
        self.rules = [g.parse(e, entities=entities) for e in expressions]  # options left out
        self.aliases = {e.name: [fold(a) for a in e.aliases if "..." not in a] for e in entities}

    def match(self, article: Article) -> list[int]:
        title, text = fold(article.title), fold(article.text)
        both = f"{title}\n{text}"
        outlet = article.outlet.casefold()
        return [i for i, ast in enumerate(self.rules) if self.eval(ast, both, title, outlet)]

    def eval(self, node: g.Node, text: str, title: str, outlet: str) -> bool:  # noqa: PLR0911
        if isinstance(node, g.Term):
            entity = self.entities.expand(node.text)
            if entity:
                return any(a in text for a in self.aliases[entity.name])
            return fold(node.text) in text
        if isinstance(node, g.Phrase):
            return fold(node.text) in text
        if isinstance(node, g.EntityRef):
            return any(a in text for a in self.aliases[node.name])
        if isinstance(node, g.Source):
            return outlet == node.name.casefold()
        if isinstance(node, g.Title):
            return self.eval(node.child, title, title, outlet)
        if isinstance(node, g.Not):
            return not self.eval(node.child, text, title, outlet)
        if isinstance(node, g.Near):
            return self.eval(node.left, text, title, outlet) and self.eval(
                node.right, text, title, outlet)
        if isinstance(node, g.And):
            return all(self.eval(c, text, title, outlet) for c in node.children)
        return any(self.eval(c, text, title, outlet) for c in node.children)


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of `fn` in milliseconds over `repeat` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    entities = load_entities(shipped_path())
    expressions = generate(args.rules, rng, entities)
    rules = [Rule(id=f"r{i}", expression=e) for i, e in enumerate(expressions)]
    doc = article()

    cold = []
    for _ in range(3):  # a fresh entity set each time: nothing cached
        fresh = load_entities(shipped_path())
        start = time.perf_counter()
        ruleset = RuleSet(rules, entities=fresh)
        cold.append(time.perf_counter() - start)
    warm_add = median_ms(lambda: RuleSet([*rules, Rule(id="new", expression="新词 + 派兵")],
                                         entities=fresh), 5)
    baseline = Baseline(expressions, fresh)
    python = RuleSet(rules, entities=fresh, native=False)

    engine_ms = median_ms(lambda: ruleset.match(doc), args.repeat)
    python_ms = median_ms(lambda: python.match(doc), max(args.repeat // 10, 5))
    detail_ms = median_ms(lambda: ruleset.match_detail(doc), max(args.repeat // 4, 5))
    history_ms = median_ms(lambda: ruleset.history.historical(doc), args.repeat)
    event_ms = median_ms(lambda: ruleset.history.event_time(doc), args.repeat)
    base_ms = median_ms(lambda: baseline.match(doc), max(args.repeat // 20, 5))
    matched = ruleset.match(doc)
    base_matched = baseline.match(doc)
    if python.match(doc) != matched:
        raise SystemExit("the C core and the Python path disagree on the article")
    path = "C core" if ruleset.native else "Python"

    print(f"rules: {len(rules):,} ({ruleset.key_count:,} distinct folded terms in the "
          f"automaton); article: {len(doc.title) + len(doc.text):,} characters, "
          f"{len((doc.title + doc.text).encode()):,} bytes UTF-8")
    print(f"rules matching the article: engine {len(matched):,}, baseline {len(base_matched):,} "
          "(the baseline ignores word boundaries, NEAR distances and exclusions)")
    print("engine path: " + ("C core (bot.rules._cmatch)" if ruleset.native else
                             "pure Python (bot.rules._cmatch is not built)"))
    print(f"engine   match():        median {engine_ms:8.3f} ms per article ({path})")
    print(f"engine   match(), Python path: median {python_ms:8.3f} ms per article "
          f"({python_ms / engine_ms:,.1f}x the {path} path's time)")
    print(f"engine   match_detail(): median {detail_ms:8.3f} ms per article (Python)")
    print(f"history check:           median {history_ms:8.3f} ms per article, part of "
          f"match() ({history_ms / engine_ms:.0%} of it); the full event time "
          f"(`stories explain`) {event_ms:.3f} ms")
    print(f"baseline (per-rule `in`): median {base_ms:8.3f} ms per article")
    print(f"ratio baseline / engine: {base_ms / engine_ms:,.1f}x")
    print(f"compile {len(rules):,} rules cold: median {statistics.median(cold) * 1e3:,.0f} ms; "
          f"recompile with one rule added: {warm_add:,.1f} ms")


if __name__ == "__main__":
    main()
