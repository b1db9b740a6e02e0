"""Time series that drive the twin: enterprise loads, rooftop PV, weather, tariffs, bills."""
