"""Executive overview stage: the month's headline KPIs and trend (``pipeline``) and the 07 page (``page``)."""
