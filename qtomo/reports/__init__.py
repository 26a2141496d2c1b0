"""Lab reports: ``report.json`` and a self-contained ``report.html`` with embedded figures
(:func:`qtomo.reports.report.write_report`; figures in :mod:`qtomo.reports.figures`)."""
