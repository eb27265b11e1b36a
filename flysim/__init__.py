"""flysim."""
