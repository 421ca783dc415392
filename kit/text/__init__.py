"""Text: number formatting (``fmt``), translations (``i18n``, strings in ``strings/*.yml``)
and the display values pages hand to the report shell (``cards``)."""
