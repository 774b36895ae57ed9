"""Operations: the Prometheus exposition and the staff dashboard at /ops/."""
