"""lkmrs-sched: survey simulator and reduction toolkit for LAMOST LK-MRS.

Importing the package configures astropy to stay offline (see :mod:`lkmrs_sched.core.offline`).
"""

from lkmrs_sched.core import offline as _offline

_offline.configure()

__version__ = "0.1.0"
__all__ = ["__version__"]
