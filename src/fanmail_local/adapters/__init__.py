"""In-memory and in-process adapters: they serve local mode and the tests alike."""
