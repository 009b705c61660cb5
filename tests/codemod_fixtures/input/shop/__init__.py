"""A small shop backend built on Thespian (fixture for the thespian-trace codemod)."""
