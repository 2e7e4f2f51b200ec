"""Every scheduled job, in one list. The scheduler process declares them all at start.

Adding a job = one module exporting `SPEC: JobSpec`, one line here, one test.
"""

from app.jobs import faq_tickets, flash_sale_release, points_expiry, posts, weekly_report
from app.jobs.registry import JobSpec

ALL_JOBS: list[JobSpec] = [
    posts.SPEC,
    weekly_report.SPEC,
    flash_sale_release.SPEC,
    faq_tickets.SPEC,
    points_expiry.SPEC,
]
