"""What a release ships: its file set against the ABI manifest, and each wheel's static checks."""
