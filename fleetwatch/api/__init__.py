"""HTTP API families: one module each (Glances v4 here; more families join later)."""
