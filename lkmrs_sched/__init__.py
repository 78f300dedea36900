"""lkmrs-sched: survey simulator and reduction toolkit for LAMOST LK-MRS.

Importing the package changes nothing in astropy: our own calls run offline
(:func:`lkmrs_sched.core.offline.offline`), a user's keep astropy's settings.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
