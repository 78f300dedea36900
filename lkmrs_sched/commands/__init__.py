"""Sub-commands of ``lkmrs-sched``; see :mod:`lkmrs_sched.cli`."""
