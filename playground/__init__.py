"""A distributed-systems playground: protocols as deterministic, breakable simulations."""
