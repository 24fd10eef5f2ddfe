"""What calls cost: trunks' rate tables and the price of a call (``rates``), their CSV files (``rates_csv``)."""
