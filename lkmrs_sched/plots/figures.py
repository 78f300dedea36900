"""Former home of every figure, kept so older imports keep working.

The figures now live by subject: :mod:`~lkmrs_sched.plots.style` (colours, saving),
:mod:`~lkmrs_sched.plots.logs`, :mod:`~lkmrs_sched.plots.forecast`,
:mod:`~lkmrs_sched.plots.sky`, :mod:`~lkmrs_sched.plots.compare` and
:mod:`~lkmrs_sched.plots.report`. New code imports from those modules.
"""

from __future__ import annotations

import matplotlib.pyplot as plt  # noqa: F401  (old callers drew with pyplot)

from lkmrs_sched.plots.forecast import epochs_per_star, goal_chances
from lkmrs_sched.plots.forecast import fan_chart as forecast_fan_chart
from lkmrs_sched.plots.logs import exposures_per_plate, visit_calendar
from lkmrs_sched.plots.sky import completion_map as footprint_sky_map
from lkmrs_sched.plots.style import FIELD_COLOURS, save

__all__ = ["FIELD_COLOURS", "epochs_per_star", "exposures_per_plate", "footprint_sky_map",
           "forecast_fan_chart", "goal_chances", "save", "visit_calendar"]
