"""Research over run results: sweeps (Optuna), walk-forward, Monte Carlo, overfitting
statistics and reports. Trials are fanned out through the run service (`app.runs`); what is
computed from their results here is pure."""
