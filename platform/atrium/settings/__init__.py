"""Settings modules: base, local (development and demo), production and test."""
