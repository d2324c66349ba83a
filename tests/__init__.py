"""newsbot tests."""
