"""Read models for the dashboard, the reports and the bench: aggregated in SQL.

Every function takes a session and returns plain values or a small pandas
frame; none loads a whole table. Pages call these functions and never build
SQL themselves.
"""
