"""The domain kernel: money in minor units, domain errors and the clock; only the standard library."""
