"""Moderation engine: normalisation, rules, detectors, escalation — no database, no I/O.

Typical use (the moderation service, the CLI dry run; the service gets its rules through
`cache.RulesCache`, which adds the scopes and words stored in the database):

    rules = load_rules_file(default_rules_path())
    checker = ContentChecker(rules.for_chat(chat_id), build_lexicon(rules, imported_words))
    verdict = checker.check(text, kind, url=url)          # stateless content check
    hits = check_activity(recent, current, rules.for_chat(chat_id))  # flood / repeats / waves
    action = decide_action(rules.for_chat(chat_id).ladder_for(hit.rule), earlier, now)
"""

from app.moderation.activity import (
    RecentMessage,
    check_activity,
    check_new_member_link,
    similarity_key,
)
from app.moderation.engine import ContentChecker, build_lexicon
from app.moderation.evaluate import Report, evaluate, format_report
from app.moderation.jsonl import JsonlInputError, check_jsonl
from app.moderation.ladder import Action, decide_action
from app.moderation.lexicon import Lexicon, LexiconTerm, parse_word_list
from app.moderation.rules import (
    EffectiveRules,
    RuleConfigError,
    RuleSet,
    default_rules_path,
    load_rules,
    load_rules_file,
    rules_from_data,
)
from app.moderation.verdict import CATEGORY_PRECEDENCE, Category, ContentVerdict, Hit

__all__ = [
    "CATEGORY_PRECEDENCE",
    "Action",
    "Category",
    "ContentChecker",
    "ContentVerdict",
    "EffectiveRules",
    "Hit",
    "JsonlInputError",
    "Lexicon",
    "LexiconTerm",
    "RecentMessage",
    "Report",
    "RuleConfigError",
    "RuleSet",
    "build_lexicon",
    "check_activity",
    "check_jsonl",
    "check_new_member_link",
    "decide_action",
    "default_rules_path",
    "evaluate",
    "format_report",
    "load_rules",
    "load_rules_file",
    "parse_word_list",
    "rules_from_data",
    "similarity_key",
]
