"""The twin: simpy engine, dispatch strategies, scenarios, results, economics, studies, CLI."""
