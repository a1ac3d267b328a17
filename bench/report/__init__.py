"""Reports: tables (pandas) and figures (matplotlib), pure functions of stored metrics."""
