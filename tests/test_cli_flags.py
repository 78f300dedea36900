"""Library errors name parameters; the command line reports them as its options."""

from __future__ import annotations

from lkmrs_sched import cli


def test_library_parameter_names_become_options(capsys, tmp_path):
    code = cli.main(["calibrate", "--draws", "10", "--accept", "2", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("lkmrs-sched: error: --accept: ") and "(0, 1]" in err[0]
    code = cli.main(["calibrate", "--draws", "10", "--parameters", "nope", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("lkmrs-sched: error: --parameters: ") and "'nope'" in err


def test_reduction_parameters_become_reduce_options(capsys, tmp_path):
    missing = tmp_path / "none.parquet"
    code = cli.main(["reduce", str(missing), "--chi2-p", "2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("lkmrs-sched: error: --chi2-p: "), err
