"""Core: the config, dates, the warehouse and its generations, atomic files and the business vocabulary.

Nothing here imports text, a stage or the report shell (tests/unit/test_layering.py).
"""
