"""Figures and the HTML run report (matplotlib, Agg backend; every file written atomically).

Modules by subject: :mod:`.style` (colours, figure factory, saving, axis helpers),
:mod:`.logs` (observation logs, the season calendar, hours per project),
:mod:`.forecast` (fan chart, Figure 3 forecast, goal chances and dates, epochs per star,
completeness), :mod:`.sky` (all-sky footprint maps), :mod:`.compare` (paired differences
of what-ifs) and :mod:`.report` (the self-contained HTML page of a run folder).
"""
