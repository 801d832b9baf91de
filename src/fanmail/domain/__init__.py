"""Pure domain logic: no I/O, no boto3, no clocks of its own."""
