"""Recipe that trains the bundled demo voice (see training/README.md)."""
