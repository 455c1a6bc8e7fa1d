"""``fleetwatch push``: measure this machine and push TrueCommand-shaped statistics to a hub."""
