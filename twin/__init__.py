"""The twin: simpy engine, dispatch strategies, scenarios, results, economics, studies, CLI.

    scenario    what one run is (`Scenario`, `load_scenario`, `default_scenario`)
    engine      `Simulation`: plant, grid, recorder, events and controller as simpy processes
    strategies  `tou`, `peak_shaving`, `lp`, `idle`, `ExternalSetpoints`, your own class
    guards      the safety layer over every strategy (one numba kernel, interventions counted)
    inputs      loads, PV, weather and tariff of a run, from `profiles`
    layout      the park's meters and units in engine order; `CopperPlate` (no feeders)
    recorder    the run's time series in arrays allocated before it
    economics   the hosts' bills with and without storage (`profiles.bill`)
    run         `run_scenario` -> `RunResult`, the output folder
    report      the comparison with the published figures, in words and tables
    figures     PNG figures of a run
    study       expansion studies (`twin expand`)
    cli         the `twin` command line

Nothing is imported here: `twin --help` stays fast.
"""
