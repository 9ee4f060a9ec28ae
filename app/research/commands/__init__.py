"""The `strategylab` research commands, one module each (optimize, walkforward, montecarlo,
report); app/cli.py registers them and each imports its heavy dependencies lazily."""
