"""Tests of the drivenow_contracts package."""
