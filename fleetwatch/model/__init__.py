"""The statistics schema: field metadata, limits, rates, views and history buffers."""
