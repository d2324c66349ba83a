"""Rules: text in, matches out. Imports nothing of chats, the store or the platforms (who hears
about a match is bot.routing's business).

- grammar (the facade: parse, parse_rule, rule_options, format), nodes (the AST, options,
  limits), lexer, parser, printing: rule text -> AST and back;
- entities (the catalog, passed explicitly: `load_rule_files` reads a rules folder's,
  `shipped_entities()` is the shipped one), expand (bare terms across scripts and languages),
  history (reports about the past), topics (the shipped topic files);
- engine (RuleSet, the facade), compiler, compiled, program, scan, automata, index, native and
  _cmatch.c (the C core): compiled rules matched against articles;
- backtest: a rule run over stored or sample articles.
"""
