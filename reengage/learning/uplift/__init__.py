"""Uplift: what a message changes, per user, learned and judged from randomized decisions.

Plain functions over arrays and data frames (no warehouse, no Dagster), so the same code runs in
the daily job and on any table of features, treatment, outcome and assignment probability.
"""
