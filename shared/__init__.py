"""Contracts and plumbing shared by the five services — never business rules."""
