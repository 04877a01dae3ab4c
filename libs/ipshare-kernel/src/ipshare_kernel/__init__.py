"""The domain kernel: money in minor units and domain errors; imports nothing outside the standard library."""
