"""Figures out: metrics and cohorts, customers, segments and the filter language,
predictions (``predict/``), and the written definition of each figure."""
