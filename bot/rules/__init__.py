"""Rules: the expression grammar, the matching engine and the shipped topic files."""
