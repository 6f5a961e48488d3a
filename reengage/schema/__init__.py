"""The warehouse schema the Python stages own: tables declared once, versioned migrations to reach them.

`declared.py` says what each table is now; `migrations.py` brings any earlier warehouse there.
"""
