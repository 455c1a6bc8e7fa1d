"""Local measurement: one module per Glances plugin, each with an injectable data source."""
