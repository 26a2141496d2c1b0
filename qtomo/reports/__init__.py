"""Lab reports: ``report.json`` and a self-contained ``report.html`` with embedded figures
(:func:`qtomo.reports.report.write_report`; the page in :mod:`qtomo.reports.html`, figures in
:mod:`qtomo.reports.plots` and :mod:`qtomo.reports.figures`)."""
