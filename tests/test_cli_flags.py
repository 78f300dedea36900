"""Library errors name parameters; the command line reports them as its options."""

from __future__ import annotations

import argparse

from lkmrs_sched import cli
from lkmrs_sched.core.errors import InputError


def test_library_parameter_names_become_options(capsys, tmp_path):
    # argparse bounds most options itself; a parameter only the library can check:
    code = cli.main(["calibrate", "--draws", "10", "--parameters", "nope", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("lkmrs-sched: error: --parameters: ") and "'nope'" in err[0]


def test_names_map_to_destinations_and_declared_flags():
    args = argparse.Namespace(min_snr=1.0, flag_names={"variability_p": "--chi2-p"})
    named = cli._in_flags(InputError("min_snr", -1, ">= 0"), args)
    assert named.where == "--min-snr" and named.allowed == ">= 0"
    assert cli._in_flags(InputError("variability_p", 2, "0 < p < 1"), args).where == "--chi2-p"
    other = InputError("file.csv: line 3", 2, "x")
    assert cli._in_flags(other, args) is other
