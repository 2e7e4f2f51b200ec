"""Message pipeline. Order matters: read top to bottom.

Before the pipeline runs, the inbox has already removed duplicates (a unique key per channel
message id, answered 200 with no second effect) and the worker has recorded the chat, the
sender and their activity. Then:

1. membership  — join/leave events update member history and stop.
2. moderation  — (group rules issue) judge the message; a violation stops the pipeline.
3. commands    — member commands; the first one that matches answers.
4. faq         — (FAQ issue) answer questions nobody answered yet.
5. points      — (points issue) activity points; an observer, it never replies.

Slots 2, 4 and 5 are empty until their issues land: no route stands in for them.
"""

from app.filters import command, is_membership_change, is_text
from app.pipeline import Pipeline, Route

from . import help, members

PIPELINE = Pipeline(
    Route("membership", members.handle, when=(is_membership_change,)),
    Route("help", help.handle, when=(is_text, command("帮助", "菜单", "help", "/help"))),
)
